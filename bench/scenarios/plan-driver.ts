/**
 * Publishes plans to apply.plan at a paced rate (or as one burst) and times each one from
 * just before its XADD to the moment the keyspace probe saw its permit written: summarised
 * (`drivePaced`, `driveBurst`), or every sample (`drivePacedSamples`, for bench:ha cost,
 * which pools alternating windows of one set-up into one distribution).
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { Keys } from '../../src/redis/keys.js';
import { sleep } from '../environment.js';
import type { KeyspaceProbe } from '../keyspace-probe.js';
import { type Summary, roundSummary, summarize } from '../stats.js';

const ACTIONS = ['PARTIAL_25', 'CLOSE_PARTIAL_50', 'PARTIAL_75', 'FULL_CLOSE_PROPOSED'];

export interface PlanTarget {
  producer: Redis;
  keys: Keys;
  probe: KeyspaceProbe;
  /** Symbols plans are drawn from (round robin). */
  symbols: readonly string[];
}

export interface DriveResult {
  sent: number;
  answered: number;
  missing: number;
  latencyMs: Summary | null;
  /** How late the producer sent plans against its schedule (coordinated-omission check). */
  producerLagMs: Summary | null;
  /** First XADD to last permit seen. */
  spanMs: number;
  planIds: string[];
}

/** A paced run's every sample, for a caller that pools several runs into one distribution. */
export interface PacedRun {
  planIds: string[];
  /** Latency of each answered plan, ms (unanswered plans are left out: see `missing`). */
  samplesMs: number[];
  missing: number;
  /** How late each XADD was sent against its schedule, ms. */
  lagMs: number[];
  /** First XADD to last permit seen. */
  spanMs: number;
}

type Collected = Omit<PacedRun, 'lagMs'>;

function sendPlan(target: PlanTarget, planId: string, seq: number, onError: () => void): void {
  const symbol = target.symbols[seq % target.symbols.length]!;
  target.producer
    .xadd(
      target.keys.applyPlanStream,
      '*',
      'plan_id',
      planId,
      'symbol',
      symbol,
      'decision',
      'EXECUTE',
      'action',
      ACTIONS[seq % ACTIONS.length]!,
      'reduceOnly',
      'true',
      'timestamp',
      String(Date.now()),
    )
    .catch(onError);
}

/**
 * Waits up to `waitMs` for every plan's permit, then times each one seen; throws if any
 * XADD failed (counted by `xaddErrors` up to then).
 */
async function collect(
  target: PlanTarget,
  planIds: string[],
  sentAt: number[],
  waitMs: number,
  xaddErrors: () => number,
): Promise<Collected> {
  const deadline = performance.now() + waitMs;
  const unseen = (): number =>
    planIds.filter((id) => target.probe.seenAt(target.keys.permitP33(id)) === undefined).length;
  while (unseen() > 0 && performance.now() < deadline) await sleep(20);
  if (xaddErrors() > 0) throw new Error(`${xaddErrors()} XADDs of plans failed`);
  const samplesMs: number[] = [];
  let last = 0;
  planIds.forEach((id, i) => {
    const seen = target.probe.seenAt(target.keys.permitP33(id));
    if (seen === undefined) return;
    samplesMs.push(seen - sentAt[i]!);
    last = Math.max(last, seen);
  });
  return {
    planIds,
    samplesMs,
    missing: planIds.length - samplesMs.length,
    spanMs: Math.round((last - (sentAt[0] ?? last)) * 10) / 10,
  };
}

function driveResult(run: Collected, producerLagMs: Summary | null): DriveResult {
  return {
    sent: run.planIds.length,
    answered: run.samplesMs.length,
    missing: run.missing,
    latencyMs: roundSummary(summarize(run.samplesMs)),
    producerLagMs,
    spanMs: run.spanMs,
    planIds: run.planIds,
  };
}

/** `rate` plans/s for `durationSec`, ids `${tag}-n`; every plan's latency and lag. */
export async function drivePacedSamples(
  target: PlanTarget,
  tag: string,
  rate: number,
  durationSec: number,
  waitMs = 5000,
): Promise<PacedRun> {
  const total = Math.max(1, Math.round(rate * durationSec));
  const planIds: string[] = [];
  const sentAt: number[] = [];
  const lagMs: number[] = [];
  let errors = 0;
  const start = performance.now();
  while (planIds.length < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
    while (planIds.length < due) {
      const seq = planIds.length;
      const planId = `${tag}-${seq}`;
      const t0 = performance.now();
      lagMs.push(t0 - (start + (seq / rate) * 1000));
      planIds.push(planId);
      sentAt.push(t0);
      sendPlan(target, planId, seq, () => (errors += 1));
    }
    await sleep(1);
  }
  const run = await collect(target, planIds, sentAt, waitMs, () => errors);
  return { ...run, lagMs };
}

/** `rate` plans/s for `durationSec`; ids `${tag}-n`. */
export async function drivePaced(
  target: PlanTarget,
  tag: string,
  rate: number,
  durationSec: number,
): Promise<DriveResult> {
  const run = await drivePacedSamples(target, tag, rate, durationSec);
  return driveResult(run, roundSummary(summarize(run.lagMs)));
}

/** `count` plans written back to back (no pacing), each timed from its own XADD. */
export async function driveBurst(
  target: PlanTarget,
  tag: string,
  count: number,
): Promise<DriveResult> {
  const planIds: string[] = [];
  const sentAt: number[] = [];
  let errors = 0;
  for (let seq = 0; seq < count; seq += 1) {
    const planId = `${tag}-${seq}`;
    planIds.push(planId);
    sentAt.push(performance.now());
    sendPlan(target, planId, seq, () => (errors += 1));
  }
  return driveResult(await collect(target, planIds, sentAt, 30_000, () => errors), null);
}

/** Allow/deny counts of the permits written for `planIds` (read back with GET). */
export async function permitOutcomes(
  redis: Redis,
  keys: Keys,
  planIds: readonly string[],
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < planIds.length; i += 2000) {
    const pipeline = redis.pipeline();
    for (const id of planIds.slice(i, i + 2000)) pipeline.get(keys.permitP33(id));
    for (const [error, value] of (await pipeline.exec()) ?? []) {
      let key = 'missing';
      if (!error && typeof value === 'string') {
        const permit = JSON.parse(value) as { allow?: boolean; reason?: string };
        key = permit.allow === true ? 'allow' : `deny:${permit.reason ?? '?'}`;
      }
      counts[key] = (counts[key] ?? 0) + 1;
    }
  }
  return counts;
}
