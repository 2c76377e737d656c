/**
 * The cycle's reads (SPEC §7): for every symbol the snapshot, ledger, hold and its TTL,
 * hold owner, state and lot size. One `reconcile_read_batch.lua` call (spec:
 * src/redis/scripts/reconcile-read-batch.ts) per batch of READ_BATCH symbols, all queued on
 * ONE pipeline, so round trips never grow with the number of symbols. Each call answers with
 * one JSON string (one reply per batch instead of thousands of RESP elements: decoding those
 * replies was most of a cycle's cost). A key of the wrong type (LESSONS #18) becomes a
 * per-symbol problem, never a crashed cycle; a failed batch makes its symbols unreadable,
 * and unreadable symbols hold (fail closed).
 */
import type { Keys } from '../redis/keys.js';
import {
  type ReadBatchEntry,
  type SymbolRead,
  symbolReadKeys,
} from '../redis/scripts/reconcile-read-batch.js';
import type { HashRead } from '../redis/symbol-state.js';

/**
 * Symbols per read call: few enough that one call blocks Redis for a few milliseconds at
 * most, many enough that the per-call overhead vanishes.
 */
export const READ_BATCH = 500;

/** One symbol's reads, named. */
export interface SymbolReads extends SymbolRead {
  symbol: string;
}

/** The symbols split into read batches, each with its KEYS (built once per engine). */
export interface ReadBatch {
  /** Index of the batch's first symbol in the allowlist. */
  offset: number;
  symbols: readonly string[];
  keys: readonly string[];
}

export function planReadBatches(
  keys: Keys,
  symbols: readonly string[],
  size = READ_BATCH,
): ReadBatch[] {
  const batches: ReadBatch[] = [];
  for (let start = 0; start < symbols.length; start += size) {
    const part = symbols.slice(start, start + size);
    batches.push({
      offset: start,
      symbols: part,
      keys: part.flatMap((s) => symbolReadKeys(keys, s)),
    });
  }
  return batches;
}

/** What a symbol reads as when its read failed: it holds (fail closed). */
export function unreadable(symbol: string, problem: string): SymbolReads {
  const error: HashRead = { kind: 'error', problem: `read failed: ${problem}` };
  return {
    symbol,
    snapshot: error,
    ledger: error,
    hold: null,
    holdPttlMs: -2,
    holdExpireMs: -2,
    holdOwner: null,
    state: {},
    lotSize: error,
  };
}

/**
 * One batch's reads from its call's outcome: a failed call (a typed error) or a reply that
 * does not match the batch makes every symbol of the batch unreadable; an entry that could
 * not be decoded makes only its symbol unreadable.
 */
export function batchReads(
  batch: ReadBatch,
  error: Error | null,
  entries: readonly ReadBatchEntry[] | undefined,
): SymbolReads[] {
  const problem =
    error !== null
      ? error.message
      : entries?.length !== batch.symbols.length
        ? 'reconcile_read_batch reply does not match the batch'
        : null;
  if (problem !== null || entries === undefined)
    return batch.symbols.map((s) => unreadable(s, problem ?? 'no reply'));
  return batch.symbols.map((symbol, i) => {
    const entry = entries[i] as ReadBatchEntry;
    return entry.kind === 'read' ? { symbol, ...entry.read } : unreadable(symbol, entry.problem);
  });
}
