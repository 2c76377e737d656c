/**
 * Plans at a paced rate, timed from just before each XADD to the moment the keyspace probe
 * saw its permit written — bench/scenarios/plan-driver.ts's `drivePaced` (same entries,
 * same schedule, same collection), returning every plan's latency too, so the cost figure
 * can pool alternating windows of one set-up into one distribution.
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { Keys } from '../../src/redis/keys.js';
import type { KeyspaceProbe } from '../keyspace-probe.js';
import { sleep } from '../environment.js';

const ACTIONS = ['PARTIAL_25', 'CLOSE_PARTIAL_50', 'PARTIAL_75', 'FULL_CLOSE_PROPOSED'];

export interface PacedTarget {
  producer: Redis;
  keys: Keys;
  probe: KeyspaceProbe;
  symbols: readonly string[];
}

export interface PacedRun {
  planIds: string[];
  /** Latency of each answered plan, ms (unanswered plans are left out: see `missing`). */
  samplesMs: number[];
  missing: number;
  /** How late each XADD was sent against its schedule, ms. */
  lagMs: number[];
}

/** `rate` plans/s for `durationSec`; ids `${tag}-n`. */
export async function drivePacedSamples(
  target: PacedTarget,
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
      target.producer
        .xadd(
          target.keys.applyPlanStream,
          '*',
          'plan_id',
          planId,
          'symbol',
          target.symbols[seq % target.symbols.length] as string,
          'decision',
          'EXECUTE',
          'action',
          ACTIONS[seq % ACTIONS.length] as string,
          'reduceOnly',
          'true',
          'timestamp',
          String(Date.now()),
        )
        .catch(() => (errors += 1));
    }
    await sleep(1);
  }
  const deadline = performance.now() + waitMs;
  const unseen = (): boolean =>
    planIds.some((id) => target.probe.seenAt(target.keys.permitP33(id)) === undefined);
  while (unseen() && performance.now() < deadline) await sleep(20);
  if (errors > 0) throw new Error(`${errors} XADDs of plans failed`);
  const samplesMs: number[] = [];
  planIds.forEach((id, i) => {
    const seen = target.probe.seenAt(target.keys.permitP33(id));
    if (seen !== undefined) samplesMs.push(seen - (sentAt[i] as number));
  });
  return { planIds, samplesMs, missing: planIds.length - samplesMs.length, lagMs };
}
