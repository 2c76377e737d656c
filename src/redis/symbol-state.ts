/**
 * The decoded state of one symbol, as every reader sees it (issue 11, "one symbol-state
 * reader"): exchange snapshot, ledger, lot size, the engine's state hash, and the hold with
 * its owner and TTL. Pure: pipeline replies in, typed values out — tested without Redis.
 *
 * Each symbol takes SYMBOL_STATE_COMMANDS replies, in the order of `symbolStateCommands`.
 * A key of the wrong type (LESSONS #18) makes that part invalid, never a crash; any other
 * error (connection lost, Redis down) throws, so a caller never shows half a desk as if it
 * were whole.
 */
import { epsilonFor } from '../domain/amount.js';
import { type HoldOwner, decideHoldOwner } from '../domain/hold-owner.js';
import { type LedgerRead, decodeLedger } from '../domain/ledger.js';
import { type LotSize, decodeLotSize } from '../domain/lot-size.js';
import { type SnapshotRead, decodeSnapshot } from '../domain/snapshot.js';
import { parseTimestampMs } from '../domain/time.js';
import type { Keys } from './keys.js';

/** The engine's status values (SPEC §7). */
export const RECONCILE_STATUSES = ['OK', 'DRIFT', 'HOLD', 'REPAIRED', 'MANUAL_REQUIRED'] as const;
export type ReconcileStatus = (typeof RECONCILE_STATUSES)[number];

export interface ReconcileStateView {
  /** One of the SPEC's values, or null when the field is absent or unknown. */
  status: ReconcileStatus | null;
  /** The raw status text when it is present but not a SPEC value. */
  unknownStatus: string | null;
  reason: string | null;
  /** When the current status/reason began (since_ts_ms, else since_ts). */
  sinceMs: number | null;
  /** The engine's last look at the symbol (ts_ms, else last_seen_ts). */
  lastSeenMs: number | null;
  /** Who held the symbol after the engine's last write: p34 | shared | foreign | "". */
  holdBy: string | null;
  diffPct: string | null;
  detail: string | null;
}

export type ReconcileStateRead =
  | { kind: 'missing' }
  | { kind: 'invalid'; problem: string }
  | { kind: 'ok'; state: ReconcileStateView };

export interface HoldView {
  present: boolean;
  owner: HoldOwner | null;
  /** Remaining TTL in ms; null when there is no hold or it has no expiry. */
  ttlMs: number | null;
  /** PEXPIRETIME (ms since the epoch); null without a hold, without expiry, or Redis < 7. */
  expireTimeMs: number | null;
  /** The owner marker's raw value (null when absent or unreadable). */
  marker: string | null;
}

export interface SymbolState {
  symbol: string;
  snapshot: SnapshotRead;
  ledger: LedgerRead;
  lotSize: LotSize | null;
  state: ReconcileStateRead;
  hold: HoldView;
}

/** One pipeline reply as ioredis gives it. */
export type PipelineReply = [Error | null, unknown];

/** The commands read per symbol, in reply order. */
export const SYMBOL_STATE_COMMANDS = 7;

export function symbolStateCommands(keys: Keys, symbol: string): [string, string][] {
  const hold = keys.hold(symbol);
  return [
    ['hgetall', keys.snapshot(symbol)],
    ['hgetall', keys.ledger(symbol)],
    ['hgetall', keys.symbolLotSize(symbol)],
    ['hgetall', keys.reconcileState(symbol)],
    ['pttl', hold],
    ['pexpiretime', hold],
    ['get', keys.holdOwner(symbol)],
  ];
}

const WRONG_TYPE = Symbol('wrong type');
const UNKNOWN_COMMAND = Symbol('unknown command');

function value(reply: PipelineReply | undefined): unknown {
  if (reply === undefined) throw new Error('pipeline returned fewer replies than commands');
  const [error, result] = reply;
  if (error === null) return result;
  if (error.message.startsWith('WRONGTYPE')) return WRONG_TYPE;
  if (/^ERR unknown command/i.test(error.message)) return UNKNOWN_COMMAND;
  throw error;
}

function hashOf(reply: unknown): Record<string, string> | typeof WRONG_TYPE {
  if (reply === WRONG_TYPE) return WRONG_TYPE;
  return reply !== null && typeof reply === 'object' ? (reply as Record<string, string>) : {};
}

function text(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  const trimmed = raw.trim();
  return trimmed === '' ? null : trimmed;
}

/** The engine's state hash (`P:reconcile:state:SYM`), read tolerantly. */
export function decodeReconcileState(hash: Record<string, string>): ReconcileStateRead {
  if (Object.keys(hash).length === 0) return { kind: 'missing' };
  const raw = text(hash.status);
  const known = (RECONCILE_STATUSES as readonly string[]).includes(raw ?? '');
  return {
    kind: 'ok',
    state: {
      status: known ? (raw as ReconcileStatus) : null,
      unknownStatus: known ? null : raw,
      reason: text(hash.reason),
      sinceMs: parseTimestampMs(hash.since_ts_ms) ?? parseTimestampMs(hash.since_ts),
      lastSeenMs: parseTimestampMs(hash.ts_ms) ?? parseTimestampMs(hash.last_seen_ts),
      holdBy: hash.hold_by ?? null,
      diffPct: text(hash.diff_pct),
      detail: text(hash.detail),
    },
  };
}

function decodeHold(pttl: unknown, expireTime: unknown, marker: unknown): HoldView {
  const ttl = typeof pttl === 'number' ? pttl : -2;
  const present = ttl !== -2;
  const expire = typeof expireTime === 'number' && expireTime > 0 ? expireTime : null;
  const markerValue =
    marker === WRONG_TYPE ? undefined : typeof marker === 'string' ? marker : null;
  return {
    present,
    owner: decideHoldOwner({
      present,
      expireTimeMs: present && expireTime === -1 ? -1 : expire,
      marker: markerValue,
    }),
    ttlMs: present && ttl >= 0 ? ttl : null,
    expireTimeMs: present ? expire : null,
    marker: markerValue ?? null,
  };
}

/** Decodes one symbol's SYMBOL_STATE_COMMANDS replies. */
export function decodeSymbolState(symbol: string, replies: readonly PipelineReply[]): SymbolState {
  const [snapR, ledgerR, lotR, stateR, pttlR, expireR, markerR] = replies;
  const lotHash = hashOf(value(lotR));
  const lotSize = lotHash === WRONG_TYPE ? null : decodeLotSize(lotHash);
  const snapHash = hashOf(value(snapR));
  const ledgerHash = hashOf(value(ledgerR));
  const stateHash = hashOf(value(stateR));
  return {
    symbol,
    snapshot:
      snapHash === WRONG_TYPE
        ? { kind: 'invalid', problem: 'snapshot key is not a hash' }
        : decodeSnapshot(snapHash),
    ledger:
      ledgerHash === WRONG_TYPE
        ? { kind: 'invalid', problem: 'ledger key is not a hash', rawVersion: '' }
        : decodeLedger(ledgerHash, epsilonFor(lotSize?.stepSize)),
    lotSize,
    state:
      stateHash === WRONG_TYPE
        ? { kind: 'invalid', problem: 'state key is not a hash' }
        : decodeReconcileState(stateHash),
    hold: decodeHold(value(pttlR), value(expireR), value(markerR)),
  };
}

/** Decodes the replies of `symbols`, SYMBOL_STATE_COMMANDS per symbol, in order. */
export function decodeSymbolStates(
  symbols: readonly string[],
  replies: readonly PipelineReply[],
): SymbolState[] {
  return symbols.map((symbol, i) =>
    decodeSymbolState(
      symbol,
      replies.slice(i * SYMBOL_STATE_COMMANDS, (i + 1) * SYMBOL_STATE_COMMANDS),
    ),
  );
}
