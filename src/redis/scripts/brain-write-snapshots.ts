/**
 * `brain_write_snapshots.lua` (SPEC §3: a snapshot never goes back in time): the spec, and
 * the batched call — every write in one pipeline of calls of at most SNAPSHOT_WRITE_BATCH
 * keys each. Fenced (SPEC §11): the `brain-poller` fence is each call's LAST key, the
 * writer's epoch in ARGV; `fenced` refuses the call's whole batch.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';
import { type FencedResult, epochArg } from './fencing.js';
import { decodeFencedBatch, placeWrongType, runFencedBatches } from './fenced-batches.js';
import { IndexedOutcomes, isCount, listOf } from './indexed-outcomes.js';
import { type ScriptReply, type ScriptSpec, type WrongTypeResult } from './script.js';

/** Keys per script call: one call at this size blocks Redis for about a millisecond. */
export const SNAPSHOT_WRITE_BATCH = 500;

/** The hash fields, in the order the rows carry them. */
export const SNAPSHOT_WRITE_FIELDS = [
  'position_amt',
  'side',
  'entry_price',
  'mark_price',
  'leverage',
  'unrealized_pnl',
  'ts_epoch',
  'ts_ms',
  'ts_iso',
  'exchange_update_ms',
  'source',
] as const;

export interface SnapshotWrite {
  symbol: string;
  /** Encoded snapshot fields; a field absent here is left as stored. */
  fields: Record<string, string>;
}

export interface SnapshotWriteSettings {
  ttlMs: number;
  /** Publish the symbols whose amount changed on `keys.snapshotChangedChannel`. */
  publishChanged: boolean;
}

export interface SnapshotWriteArgs extends SnapshotWriteSettings {
  keys: Keys;
  /** The writer's epoch (SPEC §11), taken from its term at write time. */
  epoch: number;
  writes: readonly SnapshotWrite[];
}

export type SnapshotWriteOutcome =
  | { kind: 'written'; changed: boolean }
  | { kind: 'stale' }
  | { kind: 'wrong_type'; key: string; found: string };

/**
 * One outcome per snapshot key, in KEYS order; or the whole batch refused (nothing written):
 * below the fence, or the fence key of the wrong type.
 */
export const brainWriteSnapshots: ScriptSpec<
  SnapshotWriteArgs,
  SnapshotWriteOutcome[] | FencedResult | WrongTypeResult
> = {
  name: 'brain_write_snapshots',
  version: 3,
  keyCount: 'variable',
  encode: (a) => ({
    keys: [...a.writes.map((w) => a.keys.snapshot(w.symbol)), a.keys.fence('brain-poller')],
    argv: {
      epoch: epochArg(brainWriteSnapshots, a.epoch),
      ttl_ms: Math.max(1, Math.round(a.ttlMs)),
      channel: a.publishChanged ? a.keys.snapshotChangedChannel : '',
      fields: SNAPSHOT_WRITE_FIELDS,
      rows: a.writes.map((w) => SNAPSHOT_WRITE_FIELDS.map((f) => w.fields[f] ?? false)),
      symbols: a.writes.map((w) => w.symbol),
    },
  }),
  decode: (reply) => decodeFencedBatch(brainWriteSnapshots, reply, decodeOutcomes),
};

/** The outcomes of an `ok` reply, or null when they do not add up. */
function decodeOutcomes(reply: ScriptReply): SnapshotWriteOutcome[] | null {
  const { keys: count, written } = reply;
  if (!isCount(count) || !isCount(written)) return null;
  const outcomes = new IndexedOutcomes<SnapshotWriteOutcome>(count);
  const changed = listOf(reply.changed);
  const stale = listOf(reply.stale);
  const wrongType = listOf(reply.wrong_type);
  if (changed === null || stale === null || wrongType === null) return null;
  for (const i of changed) if (!outcomes.place(i, { kind: 'written', changed: true })) return null;
  for (const i of stale) if (!outcomes.place(i, { kind: 'stale' })) return null;
  if (!placeWrongType(outcomes, wrongType)) return null;
  if (written !== count - stale.length - wrongType.length) return null;
  return outcomes.all({ kind: 'written', changed: false });
}

/**
 * Writes every snapshot (batched, one pipeline) with the writer's `epoch`; one outcome per
 * write, in order. `fenced` when a call was refused by the fence: every call checks the same
 * fence, so they all refuse — unless a new leader's `lease_acquire` ran between two calls,
 * and then only the calls before it (still in this writer's term) wrote. A wrong-typed fence
 * key throws REDIS_WRONGTYPE (nobody can lead the role until it is fixed).
 */
export async function writeSnapshots(
  redis: Redis,
  keys: Keys,
  epoch: number,
  writes: readonly SnapshotWrite[],
  settings: SnapshotWriteSettings,
): Promise<SnapshotWriteOutcome[] | FencedResult> {
  return runFencedBatches(
    redis,
    brainWriteSnapshots,
    writes,
    SNAPSHOT_WRITE_BATCH,
    (slice) => ({ keys, epoch, writes: slice, ...settings }),
    'snapshot',
  );
}
