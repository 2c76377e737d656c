/**
 * The plan evaluator (SPEC §5): reads `apply.plan` through a consumer group with blocking
 * reads and answers every EXECUTE plan with exactly one permit.
 *
 * Per batch: one pipelined read of what the rules need, the pure rules for each plan,
 * then one pipeline of `brain_issue_permit.lua` calls (marker + permit + ack, atomic).
 * If anything fails the batch stays pending and is evaluated again — from fresh reads —
 * once Redis answers; a decision is never written from data read before an outage.
 *
 * With `minReplicasAck` N > 0 (REDIS_MIN_REPLICAS_ACK, SPEC §11) the scripts do not ack:
 * the same pipeline ends with one `WAIT N replicaWaitMs`, and the batch's plans are acked
 * only when N replicas have every permit and marker — so a plan whose permit a failover
 * could still lose stays pending, and its redelivery is answered `duplicate` (no second
 * permit) and acked after a WAIT of its own. Fewer than N: nothing acked, counted
 * (`p33_permit_replication_shortfall_total`), logged once per outage; the claim path
 * retries. N = 0: no WAIT, the scripts ack, as before.
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
import type { Scheduler } from '../runtime/clock.js';
import { PosguardError, errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Keys } from '../redis/keys.js';
import { brainIssuePermit, type IssuePermitResult } from '../redis/scripts/brain-issue-permit.js';
import { queueScript, scriptPipeline } from '../redis/scripts/script.js';
import type { BrainMetrics } from './metrics.js';
import { type BatchState, readBatchState } from './rule-inputs.js';
import type { StreamEntry } from './stream-group.js';
import { type ConsumerTuning, GroupConsumer } from './group-consumer.js';
import { symbolLabel } from './labels.js';
import { OutageLog } from './outage-log.js';
import { DEFAULT_REPLICA_WAIT_MS } from '../config/redis-config.js';

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
  /** Timers of the read loop (default: the system's). */
  scheduler?: Scheduler;
  metrics: BrainMetrics;
  logger: Logger;
  /** The rules; injectable so a test can prove a throwing evaluation still yields a permit. */
  evaluate?: (inputs: RuleInputs) => PermitDecision;
  /**
   * REDIS_MIN_REPLICAS_ACK: replicas that must have a batch's permits and markers before
   * its plans are acked (WAIT on `redis`). Default 0: no WAIT, the script acks.
   */
  minReplicasAck?: number;
  /** REDIS_REPLICA_WAIT_MS: the WAIT's timeout (default 500 ms). */
  replicaWaitMs?: number;
}

interface Pending {
  entry: StreamEntry;
  parse: PlanParse;
}

/** One EXECUTE plan of a batch, paired with the reply of its own permit write. */
interface Answer {
  planId: string;
  symbol: string;
  entryId: string;
  decision: PermitDecision;
  reply?: IssuePermitResult;
  error?: Error;
}

interface IssueSettings {
  group: string;
  permitTtlMs: number;
  planSeenTtlMs: number;
  /** false when the plans are acked after WAIT instead of by the script. */
  ack: boolean;
}

/** What one batch's pipeline answered: each plan's reply, and WAIT's count (null: no WAIT). */
interface Answered {
  answers: Answer[];
  replicas: number | null;
}

export class PlanEvaluator {
  private readonly consumer: GroupConsumer;
  private readonly allowlist: ReadonlySet<string>;
  private readonly settings: IssueSettings;
  private readonly minReplicasAck: number;
  private readonly replicaWaitMs: number;
  private readonly replication: OutageLog;

  constructor(private readonly options: PlanEvaluatorOptions) {
    this.allowlist = new Set(options.allowlist);
    this.minReplicasAck = options.minReplicasAck ?? 0;
    this.replicaWaitMs = options.replicaWaitMs ?? DEFAULT_REPLICA_WAIT_MS;
    this.settings = {
      group: PLAN_GROUP,
      permitTtlMs: options.permitTtlSec * 1000,
      planSeenTtlMs: options.planSeenTtlSec * 1000,
      ack: this.minReplicasAck === 0,
    };
    this.replication = new OutageLog(
      options.logger,
      `permit replication (WAIT ${this.minReplicasAck} replicas, ${this.replicaWaitMs} ms)`,
      () => options.clock.nowMs(),
    );
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
      clock: options.clock,
      ...(options.scheduler ? { scheduler: options.scheduler } : {}),
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
    try {
      const pending = entries.map((entry) => ({
        entry,
        parse:
          entry.fields === null
            ? ({ kind: 'bad', problem: 'entry deleted while pending' } as const)
            : parsePlan(entry.id, entry.fields),
      }));
      const state = await readBatchState(
        this.options.redis,
        this.options.keys,
        this.symbolsToRead(pending),
      );
      const answered = await this.answer(pending, state, this.options.clock.nowMs());
      await this.account(answered);
    } finally {
      endTimer();
    }
  }

  /** Decides every plan and writes all permits (and acks, or the WAIT) in one pipeline. */
  private async answer(pending: Pending[], state: BatchState, nowMs: number): Promise<Answered> {
    const { redis, keys } = this.options;
    const pipeline = scriptPipeline(redis, [brainIssuePermit]);
    const answers: Answer[] = [];
    let failure: Error | null = null;
    for (const { entry, parse } of pending) {
      if (parse.kind !== 'execute') {
        this.skip(entry, parse);
        pipeline.xack(keys.applyPlanStream, PLAN_GROUP, entry.id, (error) => {
          if (error) failure ??= error;
        });
        continue;
      }
      const decision = this.decide(parse.plan, state, nowMs);
      const { planId, symbol } = parse.plan;
      const answer: Answer = { planId, symbol, entryId: entry.id, decision };
      answers.push(answer);
      const permitJson = encodePermit(decision, { planId, symbol, nowMs });
      const outcome = decision.allow ? 'allow' : `deny:${decision.reason}`;
      const args = { keys, planId, entryId: entry.id, permitJson, outcome, ...this.settings };
      queueScript(pipeline, brainIssuePermit, args, (error, reply) => {
        if (error) answer.error = error;
        else answer.reply = reply;
      });
    }
    let replicas: number | null = null;
    if (!this.settings.ack && answers.length > 0) {
      // After every script of the batch, on the same connection: covers all their writes.
      pipeline.wait(this.minReplicasAck, this.replicaWaitMs, (error, reply) => {
        if (error) failure ??= error;
        else replicas = Number(reply);
      });
    }
    await pipeline.exec();
    failure ??= answers.find((a) => a.error !== undefined)?.error ?? null;
    if (failure !== null) {
      // The batch stays pending and is evaluated again from fresh reads.
      throw new PosguardError(
        'REDIS_UNAVAILABLE',
        `permit write failed: ${errorMessage(failure)}`,
        {
          cause: failure,
        },
      );
    }
    return { answers, replicas };
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
   * Counts and logs each answer; acks the plans refused for a key of the wrong type and,
   * when the scripts left the acks to it, the answered plans WAIT found replicated.
   */
  private async account({ answers, replicas }: Answered): Promise<void> {
    const nowMs = this.options.clock.nowMs();
    // No WAIT (N = 0: the scripts acked) counts as replicated.
    const replicated = replicas === null || replicas >= this.minReplicasAck;
    const toAck: string[] = [];
    let unreplicated = 0;
    for (const answer of answers) {
      const reply = answer.reply;
      if (reply === undefined) continue;
      if (reply.status === 'wrong_type') {
        this.refuseWrongType(answer, reply);
        // Nothing was written for it: ack it here so it is not redelivered forever (and
        // the plans behind it still get their permits).
        toAck.push(answer.entryId);
        continue;
      }
      this.record(answer, reply.status, nowMs, replicated);
      if (this.settings.ack) continue;
      if (replicated) toAck.push(answer.entryId);
      else unreplicated += 1;
    }
    if (unreplicated > 0) this.notReplicated(unreplicated, replicas ?? 0);
    else if (replicas !== null) this.replication.ok();
    if (toAck.length > 0) {
      await this.options.redis.xack(this.options.keys.applyPlanStream, PLAN_GROUP, ...toAck);
    }
  }

  /** WAIT saw fewer replicas than required: the plans stay pending; never a crash. */
  private notReplicated(plans: number, replicas: number): void {
    this.options.metrics.permitReplicationShortfallTotal.inc(plans);
    this.replication.failed(
      `WAIT saw ${replicas} of ${this.minReplicasAck} replicas within ${this.replicaWaitMs} ms`,
      {
        plans,
        hint:
          'the plans stay pending and are acked once a WAIT reaches enough replicas (claim path); ' +
          'their permits are on the master only, and a gate with the same REDIS_MIN_REPLICAS_ACK refuses them (not_replicated); ' +
          'check the replicas: redis-cli INFO replication',
      },
    );
  }

  /** A key of the wrong type: no permit could be written; counted and named, never silent. */
  private refuseWrongType(
    item: { planId: string; entryId: string },
    reply: { key: string; found: string },
  ): void {
    this.options.metrics.badInputTotal.inc({ stream: 'apply.plan' });
    this.options.logger.error(
      { plan_id: item.planId, entry_id: item.entryId, key: reply.key, type: reply.found },
      `${reply.key} holds a ${reply.found}, not the type posguard writes there: no permit written for the plan (the gate refuses it), entry acknowledged; inspect the key with redis-cli TYPE and delete it if it is debris`,
    );
  }

  private record(
    item: { planId: string; symbol: string; entryId: string; decision: PermitDecision },
    reply: 'issued' | 'duplicate',
    nowMs: number,
    acked: boolean,
  ): void {
    const { metrics, logger } = this.options;
    const symbol = symbolLabel(item.symbol, this.allowlist);
    if (reply === 'duplicate') {
      // A redelivery left pending for replication is retried each claim round: logged once
      // per outage (notReplicated), not once per plan per round.
      if (!acked) return;
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
