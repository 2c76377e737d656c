/**
 * Scenario steps that hit the whole pipeline: a rate-limited (stale) exchange feed, the
 * reconcile engine stopping, malformed stream entries, and a plan with an unknown action.
 */
import { randomBytes } from 'node:crypto';
import { errorMessage } from '../../errors.js';
import {
  UNKNOWN_ACTION,
  malformedPlanEntries,
  malformedResultEntries,
} from '../pipeline/plan-fields.js';
import { toStreamArgs } from '../pipeline/result-shapes.js';
import type { ScenarioStep } from './steps-symbol.js';
import type { FaultReport } from './summary.js';
import { type StepContext, awaitSignals, sleep, symbolHealthy, waitUntil } from './step-context.js';

async function allHealthy(ctx: StepContext): Promise<boolean> {
  for (const symbol of ctx.symbols) if (!(await symbolHealthy(ctx, symbol))) return false;
  return true;
}

/** A plan published after `sinceMs` was allowed: trading is possible again. */
function allowedSince(ctx: StepContext, sinceMs: number): boolean {
  return (
    ctx.pipeline.book.find((p) => p.publishedMs >= sinceMs && p.permit?.allow === true).length > 0
  );
}

export function staleFeedStep(): ScenarioStep {
  return {
    name: 'stale-feed',
    title:
      'exchange answers 429 + Retry-After → snapshots stale → permits denied, holds stale_exchange',
    estimateMs: ({ timing }) => timing.staleFeedMs + 5000,
    run: async (ctx) => {
      const retryAfterSec = Math.ceil(ctx.timing.staleFeedMs / 1000);
      const injectedAtMs = ctx.clock.nowMs();
      await ctx.venue.addFault({
        kind: 'http_429',
        durationMs: ctx.timing.staleFeedMs,
        retryAfterSec,
      });
      ctx.status(`venue answers every request with 429, Retry-After ${retryAfterSec} s`);
      const signals = await awaitSignals(
        ctx,
        [
          { kind: 'event', events: ['HOLD_SET/stale_exchange'] },
          { kind: 'deny', reason: 'stale_exchange_state' },
        ],
        injectedAtMs,
        null,
      );
      const left = injectedAtMs + ctx.timing.staleFeedMs - ctx.clock.nowMs();
      ctx.status('feed still rate limited; waiting for the Retry-After to pass…');
      if (left > 0) await sleep(left);
      const endedAt = ctx.clock.nowMs();
      ctx.status('venue answers again; snapshots catch up');
      const at = await waitUntil(
        ctx,
        () => allHealthy(ctx),
        ctx.timing.recoverTimeoutMs + retryAfterSec * 1000,
      );
      return {
        step: 'stale-feed',
        title: 'stale exchange feed (HTTP 429)',
        symbol: null,
        injectedAtMs,
        signals,
        recoveredAtMs: at,
        recovery: `429s ended at +${((endedAt - injectedAtMs) / 1000).toFixed(1)} s; fresh snapshots cleared every hold`,
        notes: [],
      };
    },
  };
}

export function engineDownStep(): ScenarioStep {
  return {
    name: 'engine-down',
    title:
      'reconcile engine stops → heartbeat expires → permits denied reconcile_engine_down → restart',
    estimateMs: ({ timing }) => 5000 + timing.detectTimeoutMs / 2 + 2000,
    run: async (ctx) => {
      const injectedAtMs = ctx.clock.nowMs();
      await ctx.engine.stop();
      ctx.status('reconcile engine stopped; its heartbeat will expire');
      const signals = await awaitSignals(
        ctx,
        [{ kind: 'deny', reason: 'reconcile_engine_down' }],
        injectedAtMs,
        null,
      );
      await sleep(ctx.timing.operatorDelayMs / 2);
      const restartedAt = ctx.clock.nowMs();
      await ctx.engine.start();
      ctx.status('reconcile engine restarted');
      const at = await waitUntil(
        ctx,
        () => Promise.resolve(allowedSince(ctx, restartedAt)),
        ctx.timing.recoverTimeoutMs,
      );
      return {
        step: 'engine-down',
        title: 'reconcile engine down',
        symbol: null,
        injectedAtMs,
        signals,
        recoveredAtMs: at,
        recovery: 'engine restarted; permits allowed again',
        notes: [],
      };
    },
  };
}

export function unknownActionStep(symbol: string): ScenarioStep {
  return {
    name: 'unknown-action',
    title: `plan with action ${UNKNOWN_ACTION} on ${symbol} → denied unknown_action, never a full close`,
    estimateMs: () => 2000,
    run: async (ctx) => {
      const injectedAtMs = ctx.clock.nowMs();
      const plan = await ctx.pipeline.planner.publish({
        symbol,
        action: UNKNOWN_ACTION,
        tag: 'unknown-action',
        governorGrant: true,
      });
      ctx.status(`plan ${plan.planId}: action ${UNKNOWN_ACTION}, Governor granted`);
      const gated = (): number | null =>
        plan.gate !== null && !plan.gate.ok && plan.order === null ? ctx.clock.nowMs() : null;
      const signals = await awaitSignals(
        ctx,
        [
          {
            kind: 'check',
            name: `permit of ${plan.planId} denied unknown_action`,
            seenAtMs: () =>
              plan.permit && !plan.permit.allow && plan.permit.reason === 'unknown_action'
                ? plan.permit.seenMs
                : null,
          },
          { kind: 'check', name: `gate refused ${plan.planId}; no order sent`, seenAtMs: gated },
        ],
        injectedAtMs,
        null,
      );
      return {
        step: 'unknown-action',
        title: 'unknown plan action',
        symbol,
        injectedAtMs,
        signals,
        recoveredAtMs: injectedAtMs,
        recovery: 'nothing to recover: the plan was refused',
        notes: [],
      };
    },
  };
}

function sumWhere(counts: Map<string, number> | null, needle: string): number | null {
  if (counts === null) return null;
  let total = 0;
  for (const [labels, value] of counts) if (labels.includes(needle)) total += value;
  return total;
}

export function malformedStep(symbol: string): ScenarioStep {
  return {
    name: 'malformed',
    title:
      'garbage apply.plan / apply.result entries → counted as bad input, no crash, valid plans answered',
    estimateMs: () => 3000,
    run: async (ctx) => {
      const tag = `garbage${randomBytes(2).toString('hex')}`;
      const before = await ctx.badInputCounts();
      const plans = malformedPlanEntries(tag);
      const results = malformedResultEntries(tag, symbol);
      const { redis, keys } = ctx.pipeline;
      const injectedAtMs = ctx.clock.nowMs();
      const pipeline = redis.pipeline();
      for (const entry of plans)
        pipeline.xadd(keys.applyPlanStream, '*', ...toStreamArgs(entry.fields));
      for (const fields of results)
        pipeline.xadd(keys.applyResultStream, '*', ...toStreamArgs(fields));
      await pipeline.exec();
      ctx.status(`${plans.length} garbage plans and ${results.length} garbage results written`);
      const valid = await ctx.pipeline.planner.publish({
        symbol,
        action: 'CLOSE_PARTIAL_25',
        tag: 'after-garbage',
        governorGrant: true,
      });
      const badPlans = plans.filter((p) => p.expect === 'bad_input').length;
      const denyIds = plans.filter((p) => p.expect === 'deny').map((p) => p.fields.plan_id ?? '');
      const counted = (needle: string, expected: number) => async (): Promise<boolean> => {
        const now = sumWhere(await ctx.badInputCounts(), needle);
        const was = sumWhere(before, needle) ?? 0;
        return now !== null && now - was >= expected;
      };
      const seen = new Map<string, number>();
      const poll = async (): Promise<void> => {
        if (!seen.has('plans') && (await counted('plan', badPlans)()))
          seen.set('plans', ctx.clock.nowMs());
        if (!seen.has('results') && (await counted('result', results.length)()))
          seen.set('results', ctx.clock.nowMs());
        if (!seen.has('denied') && (await garbageDenied(ctx, denyIds)))
          seen.set('denied', ctx.clock.nowMs());
      };
      const timer = setInterval(() => void poll().catch(() => undefined), 200);
      let signals;
      try {
        signals = await awaitSignals(
          ctx,
          [
            {
              kind: 'check',
              name: `brain counted ${badPlans} bad apply.plan entries`,
              seenAtMs: () => seen.get('plans') ?? null,
            },
            {
              kind: 'check',
              name: `brain counted ${results.length} bad apply.result entries`,
              seenAtMs: () => seen.get('results') ?? null,
            },
            {
              kind: 'check',
              name: `plans with a valid id but garbage fields got DENY permits`,
              seenAtMs: () => seen.get('denied') ?? null,
            },
            {
              kind: 'check',
              name: `valid plan ${valid.planId} after the garbage was answered`,
              seenAtMs: () => valid.permit?.seenMs ?? null,
            },
          ],
          injectedAtMs,
          null,
        );
      } finally {
        clearInterval(timer);
      }
      return {
        step: 'malformed',
        title: 'malformed stream entries',
        symbol: null,
        injectedAtMs,
        signals,
        recoveredAtMs: valid.permit?.seenMs ?? null,
        recovery: 'the brain kept answering plans',
        notes: [],
      };
    },
  };
}

/** Both garbage plans with a usable id got a permit, and it is a DENY. */
async function garbageDenied(ctx: StepContext, planIds: readonly string[]): Promise<boolean> {
  try {
    const values = await Promise.all(
      planIds.map((id) => ctx.pipeline.redis.get(ctx.pipeline.keys.permitP33(id))),
    );
    return values.every(
      (v) => v !== null && (JSON.parse(v) as { allow?: unknown }).allow === false,
    );
  } catch (error) {
    ctx.status(`reading garbage permits failed: ${errorMessage(error)}`);
    return false;
  }
}

export type { FaultReport };
