/**
 * The cycle's reads (SPEC §7): for every symbol the snapshot, ledger, hold and its TTL,
 * hold owner, state and lot size — one `reconcile_read.lua` call per symbol, all queued on
 * ONE pipeline, so round trips never grow with the number of symbols (measured faster than
 * seven plain commands per symbol: far fewer replies for the client to parse). A key of the
 * wrong type (LESSONS #18) becomes a per-symbol problem, never a crashed cycle.
 */
import type { ChainableCommander } from 'ioredis';
import { fieldsToRecord } from '../domain/apply-result.js';
import type { Keys } from '../redis/keys.js';
import { LuaScript } from '../redis/lua-script.js';

export const reconcileReadScript = LuaScript.load('reconcile_read');

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
  holdOwner: string | null;
  state: Record<string, string>;
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

export function queueSymbolReads(pipeline: ChainableCommander, keys: Keys, symbol: string): void {
  reconcileReadScript.queue(pipeline, symbolReadKeys(keys, symbol), []);
}

function asHash(value: unknown): HashRead {
  if (value === WRONG_TYPE) return { kind: 'error', problem: 'WRONGTYPE: the key is not a hash' };
  if (!Array.isArray(value)) return { kind: 'error', problem: 'reply is not a hash' };
  return { kind: 'hash', fields: fieldsToRecord(value.map(String)) };
}

function hashOrEmpty(value: unknown): Record<string, string> {
  const read = asHash(value);
  return read.kind === 'hash' ? read.fields : {};
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** Decodes one symbol's `reconcile_read` reply; throws on a reply of the wrong shape. */
export function parseSymbolReads(symbol: string, reply: unknown): SymbolReads {
  if (!Array.isArray(reply) || reply.length !== 7) {
    throw new Error(`reconcile_read for ${symbol} returned an unexpected reply`);
  }
  const [snapshot, ledger, hold, pttl, owner, state, lot] = reply as unknown[];
  return {
    symbol,
    snapshot: asHash(snapshot),
    ledger: asHash(ledger),
    // Any value (even of the wrong type) in the hold key is a hold.
    hold: stringOrNull(hold),
    holdPttlMs: typeof pttl === 'number' ? pttl : -2,
    holdOwner: owner === WRONG_TYPE ? null : stringOrNull(owner),
    state: hashOrEmpty(state),
    lotSize: hashOrEmpty(lot),
  };
}
