/**
 * Scenario steps that break one symbol: an external (manual) trade, a fill result that
 * never reaches the stream, and a side flip. Each takes the symbol over, waits until no
 * plan of it is in flight, injects the fault under the symbol's lock, waits for the
 * signals posguard must produce, and then takes the way out an operator would.
 */
import { type Amount, Decimal, formatAmount, parseAmount } from '../../domain/amount.js';
import { floorToStep } from '../../domain/lot-size.js';
import { errorMessage } from '../../errors.js';
import type { WithheldResult } from '../pipeline/apply-layer.js';
import type { FaultReport } from './summary.js';
import type { Signal } from './signals.js';
import {
  type StepContext,
  awaitSignals,
  sleep,
  symbolHealthy,
  symbolSettled,
  waitUntil,
} from './step-context.js';
import { refillOrder } from '../pipeline/position-keeper.js';

export interface ScenarioStep {
  name: string;
  title: string;
  /** Rough length with the given timing, for truncating a short --duration. */
  estimateMs(ctx: Pick<StepContext, 'timing'>): number;
  run(ctx: StepContext): Promise<FaultReport>;
}

async function withSymbol<T>(ctx: StepContext, symbol: string, work: () => Promise<T>): Promise<T> {
  ctx.pipeline.claim(symbol);
  try {
    await ctx.pipeline.quiesce(symbol, 3000);
    await ensurePosition(ctx, symbol);
    return await work();
  } finally {
    ctx.pipeline.release(symbol);
  }
}

/**
 * The close plans may have worn the position down to nothing just before the step took
 * the symbol over (and the keeper no longer refills it): open it again to its target and
 * wait until snapshot, ledger and engine agree, so the fault starts from a clean state.
 */
export async function ensurePosition(ctx: StepContext, symbol: string): Promise<void> {
  const target = ctx.targets.get(symbol);
  if (!target) return;
  await ctx.pipeline.locks.with(symbol, async () => {
    const position = parseAmount(await ctx.venue.positionAmt(symbol)) ?? new Decimal(0);
    const order = refillOrder(position, target, await ctx.lot(symbol), 0.4);
    if (order !== null) await ctx.pipeline.apply.openPosition(symbol, order);
  });
  await waitUntil(ctx, () => symbolSettled(ctx, symbol), ctx.timing.recoverTimeoutMs);
}

/** An external trade of `fraction` × position (negative fraction: against it), under the lock. */
async function externalTrade(ctx: StepContext, symbol: string, fraction: Amount): Promise<number> {
  const step = (await ctx.lot(symbol)).stepSize;
  return ctx.pipeline.locks.with(symbol, async () => {
    const position = parseAmount(await ctx.venue.positionAmt(symbol)) ?? new Decimal(0);
    const qty = floorToStep(position.abs().mul(fraction.abs()), step);
    const size = qty.isZero() ? step : qty;
    const against = fraction.isNegative() ? -position.s || -1 : position.s || 1;
    const signed = against < 0 ? size.neg() : size;
    const at = ctx.clock.nowMs();
    await ctx.venue.externalTrade(symbol, formatAmount(signed));
    ctx.status(
      `manual trade of ${formatAmount(signed)} ${symbol} on the exchange (position was ${formatAmount(position)})`,
    );
    return at;
  });
}

/** The operator adopts the exchange amount; then the symbol must be healthy again. */
async function operatorWayOut(
  ctx: StepContext,
  symbol: string,
  why: string,
): Promise<{ at: number | null; how: string }> {
  ctx.status(`operator investigates ${symbol} (${why})…`);
  await sleep(ctx.timing.operatorDelayMs);
  try {
    const result = await ctx.operator.adopt(symbol, why);
    ctx.status(
      `operator: posguard ledger adopt ${symbol} → ${result.newAmount} (was ${result.oldAmount})`,
    );
  } catch (error) {
    return { at: null, how: `ledger adopt failed: ${errorMessage(error)}` };
  }
  const at = await waitUntil(ctx, () => symbolHealthy(ctx, symbol), ctx.timing.recoverTimeoutMs);
  return { at, how: `posguard ledger adopt ${symbol}; the engine cleared its hold` };
}

/**
 * A manual trade of `fraction` × the position on the venue, the signals posguard must
 * produce, and the operator's way out (`ledger adopt`).
 */
function manualTradeStep(spec: {
  name: string;
  title: string;
  short: string;
  symbol: string;
  fraction: string;
  signals: Signal[];
  why: string;
}): ScenarioStep {
  const { symbol } = spec;
  return {
    name: spec.name,
    title: spec.title,
    estimateMs: ({ timing }) => timing.detectTimeoutMs / 2 + timing.operatorDelayMs + 3000,
    run: (ctx) =>
      withSymbol(ctx, symbol, async () => {
        const injectedAtMs = await externalTrade(ctx, symbol, new Decimal(spec.fraction));
        const signals = await awaitSignals(ctx, spec.signals, injectedAtMs, symbol);
        const out = await operatorWayOut(ctx, symbol, spec.why);
        return {
          step: spec.name,
          title: spec.short,
          symbol,
          injectedAtMs,
          signals,
          recoveredAtMs: out.at,
          recovery: out.how,
          notes: [],
        };
      }),
  };
}

export function externalTradeStep(symbol: string): ScenarioStep {
  return manualTradeStep({
    name: 'external-trade',
    title: `manual trade on ${symbol} → drift with no evidence → hold → operator adopts`,
    short: `manual trade on ${symbol}`,
    symbol,
    fraction: '-0.3',
    signals: [
      // No unapplied fill explains this drift: the engine must hold for lack of evidence
      // (a fill the brain already applied never counts).
      { kind: 'event', events: ['HOLD_SET/qty_mismatch_no_evidence'], symbol },
      { kind: 'deny', reason: 'reconcile_required_qty_mismatch', symbol },
    ],
    why: 'manual trade on the exchange, confirmed with the desk',
  });
}

export function sideFlipStep(symbol: string): ScenarioStep {
  return manualTradeStep({
    name: 'side-flip',
    title: `external trade flips ${symbol} → MANUAL_REQUIRED side_mismatch → operator adopts`,
    short: `side flip on ${symbol}`,
    symbol,
    fraction: '-2',
    signals: [
      { kind: 'event', events: ['MANUAL_REQUIRED/side_mismatch'], symbol },
      { kind: 'deny', reason: 'reconcile_required_side_mismatch', symbol },
    ],
    why: 'position flipped by hand; new side confirmed',
  });
}

export function missedResultStep(symbol: string): ScenarioStep {
  return {
    name: 'missed-result',
    title: `an executed ${symbol} close whose apply.result is lost → drift, hold → result arrives late`,
    estimateMs: ({ timing }) => timing.detectTimeoutMs / 2 + timing.operatorDelayMs + 4000,
    run: (ctx) =>
      withSymbol(ctx, symbol, async () => {
        const withheld = ctx.pipeline.apply.withholdNextResult(symbol);
        const executed = await closeUntilExecuted(ctx, symbol, withheld);
        if (executed === null) {
          return {
            step: 'missed-result',
            title: `lost apply.result on ${symbol}`,
            symbol,
            injectedAtMs: ctx.clock.nowMs(),
            signals: [],
            recoveredAtMs: null,
            recovery: 'no close order could be executed',
            notes: ['no order executed: fault not injected'],
          };
        }
        const injectedAtMs = executed.atMs;
        ctx.status(
          `order for plan ${executed.result.planId} executed; its apply.result is withheld`,
        );
        // The withheld fill is not in the stream, so nothing explains the drift: the engine
        // holds for lack of evidence.
        const signals = await awaitSignals(
          ctx,
          [
            { kind: 'event', events: ['HOLD_SET/qty_mismatch_no_evidence'], symbol },
            { kind: 'deny', reason: 'reconcile_required_qty_mismatch', symbol },
          ],
          injectedAtMs,
          symbol,
        );
        ctx.status(`the lost apply.result of ${symbol} is delivered late…`);
        await sleep(ctx.timing.operatorDelayMs);
        await ctx.pipeline.apply.deliverLate(executed.result);
        let at = await waitUntil(
          ctx,
          () => symbolHealthy(ctx, symbol),
          ctx.timing.recoverTimeoutMs,
        );
        let recovery = 'late apply.result applied by the brain; the engine cleared its hold';
        if (at === null) {
          const out = await operatorWayOut(ctx, symbol, 'late result did not settle the drift');
          at = out.at;
          recovery = `late result did not settle it; ${out.how}`;
        }
        return {
          step: 'missed-result',
          title: `lost apply.result on ${symbol}`,
          symbol,
          injectedAtMs,
          signals,
          recoveredAtMs: at,
          recovery,
          notes: [],
        };
      }),
  };
}

/** Publishes close plans for `symbol`, one at a time, until one executes (bounded). */
async function closeUntilExecuted(
  ctx: StepContext,
  symbol: string,
  withheld: Promise<WithheldResult>,
): Promise<{ atMs: number; result: WithheldResult } | null> {
  let done: { atMs: number; result: WithheldResult } | null = null;
  void withheld.then((result) => {
    done = { atMs: ctx.clock.nowMs(), result };
  });
  const deadline = ctx.clock.nowMs() + ctx.timing.detectTimeoutMs;
  while (done === null && ctx.clock.nowMs() < deadline) {
    const plan = await ctx.pipeline.planner.publish({
      symbol,
      action: 'CLOSE_PARTIAL_25',
      tag: 'missed-result',
      governorGrant: true,
    });
    // One plan at a time: the next is only sent once this one went through the gate.
    await waitUntil(
      ctx,
      () => Promise.resolve(plan.gate !== null && (plan.order !== null || !plan.gate.ok)),
      3000,
    );
    if (done === null) await sleep(300);
  }
  if (done === null) ctx.pipeline.apply.cancelWithhold(symbol);
  return done;
}
