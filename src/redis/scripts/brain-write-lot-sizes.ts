/**
 * `brain_write_lot_sizes.lua` (SPEC §2, §3): the lot sizes of a batch of symbols, fenced
 * (SPEC §11) — the `brain-poller` fence is each call's LAST key, the writer's epoch in ARGV;
 * `fenced` refuses the call's whole batch. The spec, and the batched call: every write in one
 * pipeline of calls of at most LOT_SIZE_WRITE_BATCH keys each.
 */
import type { Redis } from 'ioredis';
import { PosguardError } from '../../errors.js';
import type { Keys } from '../keys.js';
import { type FencedResult, epochArg } from './fencing.js';
import { decodeFencedBatch, placeWrongType, runFencedBatches } from './fenced-batches.js';
import { IndexedOutcomes, isCount, listOf } from './indexed-outcomes.js';
import { type ScriptReply, type ScriptSpec, type WrongTypeResult } from './script.js';

/** Keys per script call (as for snapshots: one call at this size blocks Redis about a ms). */
export const LOT_SIZE_WRITE_BATCH = 500;

/** The hash fields (src/domain/lot-size.ts `encodeLotSize`), in the order the rows carry them. */
export const LOT_SIZE_WRITE_FIELDS = ['step_size', 'min_qty', 'max_qty', 'ts_ms'] as const;

export interface LotSizeWrite {
  symbol: string;
  /** The encoded lot size: every field of LOT_SIZE_WRITE_FIELDS. */
  fields: Readonly<Record<string, string>>;
}

export interface LotSizeWriteArgs {
  keys: Keys;
  /** The writer's epoch (SPEC §11), taken from its term at write time. */
  epoch: number;
  writes: readonly LotSizeWrite[];
}

export type LotSizeWriteOutcome =
  | { kind: 'written' }
  /** The key holds another type: nothing written for this symbol. */
  | { kind: 'wrong_type'; key: string; found: string };

function row(w: LotSizeWrite): string[] {
  return LOT_SIZE_WRITE_FIELDS.map((f) => {
    const value = w.fields[f];
    if (typeof value !== 'string') {
      throw new PosguardError(
        'USAGE',
        `brain_write_lot_sizes: the lot size of ${w.symbol} has no ${f} (encode it with encodeLotSize)`,
      );
    }
    return value;
  });
}

/**
 * One outcome per lot-size key, in KEYS order; or the whole batch refused (nothing
 * written): below the fence, or the fence key of the wrong type.
 */
export const brainWriteLotSizes: ScriptSpec<
  LotSizeWriteArgs,
  LotSizeWriteOutcome[] | FencedResult | WrongTypeResult
> = {
  name: 'brain_write_lot_sizes',
  version: 1,
  keyCount: 'variable',
  encode: (a) => ({
    keys: [...a.writes.map((w) => a.keys.symbolLotSize(w.symbol)), a.keys.fence('brain-poller')],
    argv: {
      epoch: epochArg(brainWriteLotSizes, a.epoch),
      fields: LOT_SIZE_WRITE_FIELDS,
      rows: a.writes.map(row),
    },
  }),
  decode: (reply) => decodeFencedBatch(brainWriteLotSizes, reply, decodeOutcomes),
};

/** The outcomes of an `ok` reply, or null when they do not account for every key once. */
function decodeOutcomes(reply: ScriptReply): LotSizeWriteOutcome[] | null {
  const { keys: count, written } = reply;
  if (!isCount(count) || !isCount(written)) return null;
  const outcomes = new IndexedOutcomes<LotSizeWriteOutcome>(count);
  const wrongType = listOf(reply.wrong_type);
  if (wrongType === null) return null;
  if (!placeWrongType(outcomes, wrongType)) return null;
  if (written !== count - wrongType.length) return null;
  return outcomes.all({ kind: 'written' });
}

/**
 * Writes every lot size (batched, one pipeline) with the writer's `epoch`; one outcome per
 * write, in order. `fenced` when a call was refused by the fence (all calls check the same
 * fence: see `writeSnapshots`). A wrong-typed fence key throws REDIS_WRONGTYPE.
 */
export async function writeLotSizes(
  redis: Redis,
  keys: Keys,
  epoch: number,
  writes: readonly LotSizeWrite[],
): Promise<LotSizeWriteOutcome[] | FencedResult> {
  return runFencedBatches(
    redis,
    brainWriteLotSizes,
    writes,
    LOT_SIZE_WRITE_BATCH,
    (slice) => ({ keys, epoch, writes: slice }),
    'lot size',
  );
}
