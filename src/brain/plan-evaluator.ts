/**
 * The plan evaluator (SPEC §5): reads `apply.plan` through a consumer group with blocking
 * reads and answers every EXECUTE plan with exactly one permit.
 *
 * Per batch: one pipelined read of what the rules need, the pure rules for each plan,
 * then one pipeline of `brain_issue_permit.lua` calls (marker + permit + ack, atomic).
 * If anything fails the batch stays pending and is evaluated again — from fresh reads —
 * once Redis answers; a decision is never written from data read before an outage.
 */
import type { Redis } from 'ioredis';
import { EMPTY_ORDER } from '../domain/ledger.js';
import { type PlanParse, parsePlan } from '../domain/plan.js';
import {
  type PermitDecision,
  type RuleConfig,
  type RuleInputs,
  evaluatePlan,
} from '../domain/permit-rules.js';
import { encodePermit, internalErrorDecision } from '../domain/permit.js';
import { streamIdMs } from '../domain/identifiers.js';
import type { Clock } from '../domain/time.js';
import { PosguardError, errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Keys } from '../redis/keys.js';
import { isNoScript } from '../redis/lua-script.js';
import {
  type IssueSettings,
  type IssueWrongType,
  decodeIssueReply,
  issuePermitScript,
  queueIssuePermit,
} from './issue-permit-script.js';
import type { BrainMetrics } from './metrics.js';
import { type BatchState, readBatchState } from './rule-inputs.js';
import type { StreamEntry } from './stream-group.js';
import { type ConsumerTuning, GroupConsumer } from './group-consumer.js';
import { symbolLabel } from './labels.js';

export const PLAN_GROUP = 'p33-brain';

export interface PlanEvaluatorOptions extends ConsumerTuning {
  /** Dedicated connection for the blocking read. */
  reader: Redis;
  /** Connection for the batch reads and permit writes. */
  redis: Redis;
  keys: Keys;
  consumer: string;
  allowlist: readonly string[];
  rules: RuleConfig;
  permitTtlSec: number;
  planSeenTtlSec: number;
  clock: Clock;
  metrics: BrainMetrics;
  logger: Logger;
  /** The rules; injectable so a test can prove a throwing evaluation still yields a permit. */
  evaluate?: (inputs: RuleInputs) => PermitDecision;
}

interface Pending {
  entry: StreamEntry;
  parse: PlanParse;
}

export class PlanEvaluator {
  private readonly consumer: GroupConsumer;
  private readonly allowlist: ReadonlySet<string>;
  private readonly settings: IssueSettings;
  private scriptLoaded = false;

  constructor(private readonly options: PlanEvaluatorOptions) {
    this.allowlist = new Set(options.allowlist);
    this.settings = {
      group: PLAN_GROUP,
      permitTtlMs: options.permitTtlSec * 1000,
      planSeenTtlMs: options.planSeenTtlSec * 1000,
    };
    this.consumer = new GroupConsumer({
      name: 'plan-evaluator',
      reader: options.reader,
      stream: options.keys.applyPlanStream,
      group: PLAN_GROUP,
      consumer: options.consumer,
      startId: '0',
      count: options.count,
      blockMs: options.blockMs,
      claimIdleMs: options.claimIdleMs,
      claimEveryMs: options.claimEveryMs,
      handle: (entries) => this.handleBatch(entries),
      onError: (component) => options.metrics.loopErrorsTotal.inc({ component }),
      logger: options.logger,
    });
  }

  start(): void {
    this.consumer.start();
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  /** Evaluates and answers one batch. Public for tests; the consumer loop calls it. */
  async handleBatch(entries: StreamEntry[]): Promise<void> {
    const endTimer = this.options.metrics.planBatchDuration.startTimer();
    const { redis, keys } = this.options;
    if (!this.scriptLoaded) {
      await issuePermitScript.ensureLoaded(redis);
      this.scriptLoaded = true;
    }
    const pending: Pending[] = entries.map((entry) => ({
      entry,
      parse:
        entry.fields === null
          ? { kind: 'bad', problem: 'entry deleted while pending' }
          : parsePlan(entry.id, entry.fields),
    }));
    const state = await readBatchState(redis, keys, this.symbolsToRead(pending));
    const nowMs = this.options.clock.nowMs();
    const pipeline = redis.pipeline();
    const issued: { planId: string; symbol: string; entryId: string; decision: PermitDecision }[] =
      [];
    for (const { entry, parse } of pending) {
      if (parse.kind !== 'execute') {
        this.skip(entry, parse);
        pipeline.xack(keys.applyPlanStream, PLAN_GROUP, entry.id);
        continue;
      }
      const decision = this.decide(parse.plan, state, nowMs);
      const { planId, symbol } = parse.plan;
      const permitJson = encodePermit(decision, { planId, symbol, nowMs });
      const outcome = decision.allow ? 'allow' : `deny:${decision.reason}`;
      queueIssuePermit(
        pipeline,
        keys,
        { planId, entryId: entry.id, permitJson, outcome },
        this.settings,
      );
      issued.push({ planId, symbol, entryId: entry.id, decision });
    }
    const results = (await pipeline.exec()) ?? [];
    const refused = this.account(results, pending, issued);
    // A plan whose marker or permit key holds another type got nothing written: ack it here
    // so it is not redelivered forever (and the plans behind it still get their permits).
    if (refused.length > 0) await redis.xack(keys.applyPlanStream, PLAN_GROUP, ...refused);
    endTimer();
  }

  private symbolsToRead(pending: Pending[]): string[] {
    const symbols = new Set<string>();
    for (const { parse } of pending) {
      // Symbols outside the allowlist are read too, so their deny lists accurate details.
      if (parse.kind === 'execute' && parse.plan.symbolValid) {
        symbols.add(parse.plan.symbol);
      }
    }
    return [...symbols];
  }

  private decide(plan: RuleInputs['plan'], state: BatchState, nowMs: number): PermitDecision {
    const evaluate = this.options.evaluate ?? evaluatePlan;
    const symbolState = state.symbols.get(plan.symbol);
    // p33_evaluation_duration_seconds: one observation per plan, the rules alone.
    const endTimer = this.options.metrics.evaluationDuration.startTimer();
    try {
      return evaluate({
        plan,
        // Only an invalid symbol has no state: it names no key, so there is nothing to read.
        snapshot: symbolState?.snapshot ?? { kind: 'missing' },
        ledger: symbolState?.ledger ?? {
          kind: 'missing',
          order: EMPTY_ORDER,
          version: 0,
          rawVersion: '',
        },
        holdPresent: symbolState?.holdPresent ?? false,
        reconcileHeartbeatPresent: state.reconcileHeartbeatPresent,
        reconcileSymbolFailing: symbolState?.reconcileFailing ?? false,
        lotSize: symbolState?.lotSize ?? null,
        nowMs,
        config: this.options.rules,
        allowlist: this.allowlist,
      });
    } catch (error) {
      this.options.logger.error(
        { plan_id: plan.planId, err: errorMessage(error) },
        'plan evaluation threw; denying with internal_error',
      );
      return internalErrorDecision(errorMessage(error));
    } finally {
      endTimer();
    }
  }

  private skip(entry: StreamEntry, parse: Exclude<PlanParse, { kind: 'execute' }>): void {
    if (parse.kind === 'bad') {
      this.options.metrics.badInputTotal.inc({ stream: 'apply.plan' });
      this.options.logger.warn(
        { entry_id: entry.id, problem: parse.problem },
        'bad apply.plan entry acknowledged without a permit',
      );
    }
  }

  /**
   * Counts what was written; a failed reply makes the batch fail so it is retried from
   * pending. Returns the entries refused for a key of the wrong type (to be acked).
   */
  private account(
    results: [Error | null, unknown][],
    pending: Pending[],
    issued: { planId: string; symbol: string; entryId: string; decision: PermitDecision }[],
  ): string[] {
    const refused: string[] = [];
    let failure: Error | null = null;
    let issuedIndex = 0;
    const nowMs = this.options.clock.nowMs();
    pending.forEach(({ parse }, i) => {
      const [error, reply] = results[i] ?? [new Error('missing pipeline reply'), null];
      if (error) {
        failure ??= error;
        if (parse.kind === 'execute') issuedIndex += 1;
        return;
      }
      if (parse.kind !== 'execute') return;
      const item = issued[issuedIndex++];
      if (item === undefined) return;
      const decoded = decodeIssueReply(reply);
      if (decoded !== null && typeof decoded === 'object') {
        this.refuseWrongType(item, decoded);
        refused.push(item.entryId);
      } else this.record(item, decoded, nowMs);
    });
    if (failure !== null) {
      if (isNoScript(failure)) this.scriptLoaded = false;
      throw new PosguardError(
        'REDIS_UNAVAILABLE',
        `permit write failed: ${errorMessage(failure)}`,
        { cause: failure },
      );
    }
    return refused;
  }

  /** A key of the wrong type: no permit could be written; counted and named, never silent. */
  private refuseWrongType(item: { planId: string; entryId: string }, reply: IssueWrongType): void {
    this.options.metrics.badInputTotal.inc({ stream: 'apply.plan' });
    this.options.logger.error(
      { plan_id: item.planId, entry_id: item.entryId, key: reply.wrongType, type: reply.found },
      `${reply.wrongType} holds a ${reply.found}, not the type posguard writes there: no permit written for the plan (the gate refuses it), entry acknowledged; inspect the key with redis-cli TYPE and delete it if it is debris`,
    );
  }

  private record(
    item: { planId: string; symbol: string; entryId: string; decision: PermitDecision },
    reply: 'issued' | 'duplicate' | null,
    nowMs: number,
  ): void {
    const { metrics, logger } = this.options;
    const symbol = symbolLabel(item.symbol, this.allowlist);
    if (reply === 'duplicate') {
      logger.info(
        { plan_id: item.planId, entry_id: item.entryId },
        'plan already answered; redelivery acknowledged, no second permit',
      );
      return;
    }
    const { decision } = item;
    metrics.permitTotal.inc({ symbol, decision: decision.allow ? 'allow' : 'deny' });
    metrics.planLag.observe(Math.max(0, nowMs - streamIdMs(item.entryId)) / 1000);
    if (decision.allow) {
      logger.info(
        {
          plan_id: item.planId,
          symbol: item.symbol,
          safe_close_qty: decision.safeCloseQty.toFixed(),
        },
        'permit ALLOW',
      );
    } else {
      metrics.permitDenyTotal.inc({ symbol, reason: decision.reason });
      logger.info(
        {
          plan_id: item.planId,
          symbol: item.symbol,
          reason: decision.reason,
          failed: decision.failed.map((f) => f.reason),
        },
        'permit DENY',
      );
    }
  }
}
