/**
 * `reconcile_read_batch.lua`: everything the reconcile engine reads about a batch of
 * symbols — snapshot, ledger, hold (value, PTTL, PEXPIRETIME), owner marker, state, lot
 * size — in one call with one JSON reply. Hashes are read with HMGET of the fields their
 * codec reads; a key of the wrong type (LESSONS #18) is reported in its slot, and an entry
 * that cannot be decoded makes only its own symbol unreadable.
 */
import { PosguardError } from '../../errors.js';
import { LEDGER_FIELDS } from '../../domain/ledger.js';
import type { Keys } from '../keys.js';
import type { HashRead } from '../symbol-state-parts.js';
import { type ScriptReply, type ScriptSpec, unknownStatus } from './script.js';

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

const FIELD_LISTS = {
  snapshot: SNAPSHOT_READ_FIELDS,
  ledger: LEDGER_READ_FIELDS,
  state: STATE_READ_FIELDS,
  lot: LOT_READ_FIELDS,
};

/** The six keys of one symbol, in the order the script reads them. */
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

export interface ReadBatchArgs {
  /** `symbolReadKeys` of each symbol, one after the other (built once, reused every cycle). */
  symbolKeys: readonly string[];
}

/** One symbol's part of the reply, decoded (the caller knows which symbol it is). */
export interface SymbolRead {
  snapshot: HashRead;
  ledger: HashRead;
  /** Hold key value, or null when absent. A hold of the wrong type still counts as a hold. */
  hold: string | null;
  /** PTTL of the hold: ms, -1 without expiry, -2 absent. */
  holdPttlMs: number;
  /** PEXPIRETIME of the hold (ms; -1 without expiry, -2 absent); null when unknown (Redis < 7). */
  holdExpireMs: number | null;
  /** The owner marker: its value, null when absent, undefined when it is not a string (unreadable). */
  holdOwner: string | null | undefined;
  /** The STATE_READ_FIELDS present in the state hash ({} when absent or unreadable). */
  state: Record<string, string>;
  lotSize: HashRead;
}

export type ReadBatchEntry =
  { kind: 'read'; read: SymbolRead } | { kind: 'unreadable'; problem: string };

const WRONG_TYPE = 'WRONGTYPE';

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
 * A hash slot: the list's values, or `{full: flat HGETALL}` when none of the listed fields
 * exists (`{}` is how cjson writes an empty array), or WRONGTYPE.
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

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** One entry of the reply; throws on the wrong shape. */
export function decodeSymbolRead(entry: unknown): SymbolRead {
  if (!Array.isArray(entry) || entry.length !== 8) {
    throw new PosguardError('SCRIPT_REPLY_INVALID', 'reconcile_read_batch: unexpected entry');
  }
  const [snapshot, ledger, hold, pttl, owner, state, lot, expireAt] = entry as unknown[];
  const stateRead = asHash(STATE_READ_FIELDS, state);
  return {
    snapshot: asHash(SNAPSHOT_READ_FIELDS, snapshot),
    ledger: asHash(LEDGER_READ_FIELDS, ledger),
    // Any value (even of the wrong type) in the hold key is a hold.
    hold: stringOrNull(hold),
    holdPttlMs: typeof pttl === 'number' ? pttl : -2,
    holdExpireMs: typeof expireAt === 'number' && expireAt >= -2 ? expireAt : null,
    // A marker that is not a string (or not a string reply) is unreadable, never "no marker".
    holdOwner:
      owner === '' ? null : typeof owner === 'string' && owner !== WRONG_TYPE ? owner : undefined,
    state: stateRead.kind === 'hash' ? stateRead.fields : {},
    lotSize: asHash(LOT_READ_FIELDS, lot),
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One entry per symbol of the call, in KEYS order. */
export const reconcileReadBatch: ScriptSpec<ReadBatchArgs, ReadBatchEntry[]> = {
  name: 'reconcile_read_batch',
  version: 2,
  keyCount: 'variable',
  encode: (a) => ({ keys: a.symbolKeys, argv: FIELD_LISTS }),
  decode: (reply: ScriptReply) => {
    if (reply.status !== 'ok') return unknownStatus(reconcileReadBatch, reply);
    const symbols: unknown = isEmptyObject(reply.symbols) ? [] : reply.symbols;
    if (!Array.isArray(symbols)) {
      throw new PosguardError(
        'SCRIPT_REPLY_INVALID',
        'reconcile_read_batch: symbols is not a list',
      );
    }
    return symbols.map((entry): ReadBatchEntry => {
      try {
        return { kind: 'read', read: decodeSymbolRead(entry) };
      } catch (failure) {
        return { kind: 'unreadable', problem: message(failure) };
      }
    });
  },
};
