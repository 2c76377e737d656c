/**
 * The cycle's reads (SPEC §7): for every symbol the snapshot, ledger, hold and its TTL,
 * hold owner, state and lot size. One `reconcile_read_batch.lua` call per batch of
 * READ_BATCH symbols, all queued on ONE pipeline, so round trips never grow with the number
 * of symbols. Each call answers with one JSON string (one reply per batch instead of
 * thousands of RESP elements: decoding those replies was most of a cycle's cost). A key of
 * the wrong type (LESSONS #18) becomes a per-symbol problem, never a crashed cycle; a
 * failed batch makes its symbols unreadable, and unreadable symbols hold (fail closed).
 */
import type { ChainableCommander } from 'ioredis';
import { LEDGER_FIELDS } from '../domain/ledger.js';
import type { Keys } from '../redis/keys.js';
import { LuaScript } from '../redis/lua-script.js';

export const reconcileReadScript = LuaScript.load('reconcile_read_batch');

/**
 * Symbols per read call: few enough that one call blocks Redis for a few milliseconds at
 * most, many enough that the per-call overhead vanishes.
 */
export const READ_BATCH = 500;

/**
 * The hash fields read for each symbol (HMGET, not HGETALL: a third of the bytes, and Redis
 * spent most of a read encoding the rest). Each list holds every field its codec looks at —
 * decodeSnapshot, decodeLedger (and the commit's compare-and-set), decodeLotSize, and the
 * engine's own state fields — so a decoded projection equals the decoded full hash.
 * test/reconcile/read-projection.test.ts proves it for each codec and fails when a codec
 * starts reading a field that is not listed here.
 */
export const SNAPSHOT_READ_FIELDS = [
  'position_amt',
  'ts_ms',
  'ts_epoch',
  'entry_price',
  'mark_price',
  'leverage',
  'unrealized_pnl',
  'exchange_update_ms',
  'source',
] as const;

/**
 * The ledger codec's own list (`LEDGER_FIELDS`): every shape's amount and side fields —
 * `ledger_amt`/`ledger_side`, `last_known_amt` with `last_side`/`last_known_side`,
 * `position_amt`/`side` — the version, times and order fields.
 */
export const LEDGER_READ_FIELDS = LEDGER_FIELDS;

export const LOT_READ_FIELDS = ['step_size', 'min_qty', 'max_qty'] as const;

/** The state hash fields the engine uses (its own hash: the rest is written, never read). */
export const STATE_READ_FIELDS = [
  'status',
  'reason',
  'episode_reason',
  'hold_by',
  'last_fix_ts_ms',
] as const;

const FIELD_LISTS = JSON.stringify({
  snapshot: SNAPSHOT_READ_FIELDS,
  ledger: LEDGER_READ_FIELDS,
  state: STATE_READ_FIELDS,
  lot: LOT_READ_FIELDS,
});

export type HashRead =
  { kind: 'hash'; fields: Record<string, string> } | { kind: 'error'; problem: string };

export interface SymbolReads {
  symbol: string;
  snapshot: HashRead;
  ledger: HashRead;
  /** Hold key value, or null when absent. A hold of the wrong type still counts as a hold. */
  hold: string | null;
  /** PTTL of the hold: ms, -1 without expiry, -2 absent. */
  holdPttlMs: number;
  /** PEXPIRETIME of the hold (ms; -1 without expiry, -2 absent); null when unknown (Redis < 7). */
  holdExpireMs: number | null;
  holdOwner: string | null;
  /** The STATE_READ_FIELDS present in the state hash ({} when absent or unreadable). */
  state: Record<string, string>;
  /** The LOT_READ_FIELDS present in the lot size hash. */
  lotSize: Record<string, string>;
}

const WRONG_TYPE = 'WRONGTYPE';

export function symbolReadKeys(keys: Keys, symbol: string): string[] {
  return [
    keys.snapshot(symbol),
    keys.ledger(symbol),
    keys.hold(symbol),
    keys.holdOwner(symbol),
    keys.reconcileState(symbol),
    keys.symbolLotSize(symbol),
  ];
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

/** Called with a batch's reply as soon as it arrives (before the pipeline resolves). */
export type ReplyCallback = (error: Error | null, reply: unknown) => void;

/**
 * Queues one batch's read. Like `LuaScript.queue` (EVALSHA; the caller loads the script
 * first and handles NOSCRIPT), plus a callback run as soon as this batch's reply arrives.
 */
export function queueReadBatch(
  pipeline: ChainableCommander,
  batch: ReadBatch,
  onReply: ReplyCallback,
): void {
  const { sha } = reconcileReadScript;
  pipeline.evalsha(sha, batch.keys.length, ...batch.keys, FIELD_LISTS, (error, reply) => {
    onReply(error ?? null, reply);
  });
}

/** What a symbol reads as when its read failed: it holds (fail closed). */
export function unreadable(symbol: string, problem: string): SymbolReads {
  const error = { kind: 'error', problem: `read failed: ${problem}` } as const;
  return {
    symbol,
    snapshot: error,
    ledger: error,
    hold: null,
    holdPttlMs: -2,
    holdExpireMs: -2,
    holdOwner: null,
    state: {},
    lotSize: {},
  };
}

/** A flat field/value array as a record (the last value of a repeated field wins). */
function recordOf(flat: readonly unknown[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = String(flat[i + 1]);
  return record;
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.keys(value).length === 0;
}

/** The listed fields that exist, by name (HMGET values in list order, false when absent). */
function projected(names: readonly string[], values: readonly unknown[]): Record<string, string> {
  const record: Record<string, string> = {};
  names.forEach((name, i) => {
    const value = values[i];
    if (typeof value === 'string') record[name] = value;
  });
  return record;
}

/**
 * A hash slot of the read reply: the list's values, or `{full: flat HGETALL}` when none of
 * the listed fields exists (`{}` is how cjson writes an empty array), or WRONGTYPE.
 */
function asHash(names: readonly string[], value: unknown): HashRead {
  if (value === WRONG_TYPE) return { kind: 'error', problem: 'WRONGTYPE: the key is not a hash' };
  if (Array.isArray(value) && value.length === names.length)
    return { kind: 'hash', fields: projected(names, value) };
  if (typeof value === 'object' && value !== null && 'full' in value) {
    const full: unknown = value.full;
    if (Array.isArray(full)) return { kind: 'hash', fields: recordOf(full) };
    if (isEmptyObject(full)) return { kind: 'hash', fields: {} };
  }
  return { kind: 'error', problem: 'reply is not a hash' };
}

function hashOrEmpty(names: readonly string[], value: unknown): Record<string, string> {
  const read = asHash(names, value);
  return read.kind === 'hash' ? read.fields : {};
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** Decodes one symbol's entry of a `reconcile_read_batch` reply; throws on the wrong shape. */
export function parseSymbolReads(symbol: string, entry: unknown): SymbolReads {
  if (!Array.isArray(entry) || entry.length !== 8) {
    throw new Error(`reconcile_read_batch for ${symbol} returned an unexpected entry`);
  }
  const [snapshot, ledger, hold, pttl, owner, state, lot, expireAt] = entry as unknown[];
  return {
    symbol,
    snapshot: asHash(SNAPSHOT_READ_FIELDS, snapshot),
    ledger: asHash(LEDGER_READ_FIELDS, ledger),
    // Any value (even of the wrong type) in the hold key is a hold.
    hold: stringOrNull(hold),
    holdPttlMs: typeof pttl === 'number' ? pttl : -2,
    holdExpireMs: typeof expireAt === 'number' && expireAt >= -2 ? expireAt : null,
    holdOwner: owner === WRONG_TYPE ? null : stringOrNull(owner),
    state: hashOrEmpty(STATE_READ_FIELDS, state),
    lotSize: hashOrEmpty(LOT_READ_FIELDS, lot),
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Decodes one batch's pipeline result into one SymbolReads per symbol of the batch. A
 * failed call or an unreadable reply makes every symbol of the batch unreadable; a bad
 * entry makes only its symbol unreadable.
 */
export function parseReadBatch(
  batch: ReadBatch,
  error: Error | null,
  reply: unknown,
): SymbolReads[] {
  let entries: unknown;
  try {
    if (error) throw error;
    if (typeof reply !== 'string') throw new Error('reconcile_read_batch reply is not a string');
    entries = JSON.parse(reply);
    if (!Array.isArray(entries) || entries.length !== batch.symbols.length) {
      throw new Error('reconcile_read_batch reply does not match the batch');
    }
  } catch (failure) {
    return batch.symbols.map((s) => unreadable(s, message(failure)));
  }
  const list = entries as unknown[];
  return batch.symbols.map((symbol, i) => {
    try {
      return parseSymbolReads(symbol, list[i]);
    } catch (failure) {
      return unreadable(symbol, message(failure));
    }
  });
}
