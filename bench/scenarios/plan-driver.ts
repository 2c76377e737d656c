/**
 * Publishes plans to apply.plan at a paced rate (or as one burst) and times each one from
 * just before its XADD to the moment the keyspace probe saw its permit written.
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

async function collect(
  target: PlanTarget,
  planIds: string[],
  sentAt: number[],
  waitMs: number,
): Promise<DriveResult> {
  const deadline = performance.now() + waitMs;
  const unseen = (): number =>
    planIds.filter((id) => target.probe.seenAt(target.keys.permitP33(id)) === undefined).length;
  while (unseen() > 0 && performance.now() < deadline) await sleep(20);
  const latencies: number[] = [];
  let last = 0;
  planIds.forEach((id, i) => {
    const seen = target.probe.seenAt(target.keys.permitP33(id));
    if (seen === undefined) return;
    latencies.push(seen - sentAt[i]!);
    last = Math.max(last, seen);
  });
  return {
    sent: planIds.length,
    answered: latencies.length,
    missing: planIds.length - latencies.length,
    latencyMs: roundSummary(summarize(latencies)),
    producerLagMs: null,
    spanMs: Math.round((last - (sentAt[0] ?? last)) * 10) / 10,
    planIds,
  };
}

/** `rate` plans/s for `durationSec`; ids `${tag}-n`. */
export async function drivePaced(
  target: PlanTarget,
  tag: string,
  rate: number,
  durationSec: number,
): Promise<DriveResult> {
  const total = Math.max(1, Math.round(rate * durationSec));
  const planIds: string[] = [];
  const sentAt: number[] = [];
  const lag: number[] = [];
  let errors = 0;
  const start = performance.now();
  while (planIds.length < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
    while (planIds.length < due) {
      const seq = planIds.length;
      const planId = `${tag}-${seq}`;
      const t0 = performance.now();
      lag.push(t0 - (start + (seq / rate) * 1000));
      planIds.push(planId);
      sentAt.push(t0);
      sendPlan(target, planId, seq, () => (errors += 1));
    }
    await sleep(1);
  }
  if (errors > 0) throw new Error(`${errors} XADDs of plans failed`);
  const result = await collect(target, planIds, sentAt, 5000);
  return { ...result, producerLagMs: roundSummary(summarize(lag)) };
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
  if (errors > 0) throw new Error(`${errors} XADDs of plans failed`);
  return collect(target, planIds, sentAt, 30_000);
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
