/**
 * The decoders of each part of a symbol's state, shared by every reader (issue 11, "one
 * symbol-state reader"): the pipelined reader (`symbol-state.ts`) and the reconcile engine's
 * batched Lua read both hand their hashes here as a `HashRead`, so a key of the wrong type,
 * an empty hash and every field are read the same way everywhere. Pure: no Redis, no clock.
 */
import { epsilonFor } from '../domain/amount.js';
import { type HoldOwner, decideHoldOwner } from '../domain/hold-owner.js';
import { type LedgerRead, decodeLedger } from '../domain/ledger.js';
import { type LotSize, decodeLotSize } from '../domain/lot-size.js';
import { type SnapshotRead, decodeSnapshot } from '../domain/snapshot.js';
import { parseTimestampMs } from '../domain/time.js';

/** One hash as read: its fields ({} when the key is absent), or why it could not be read. */
export type HashRead =
  { kind: 'hash'; fields: Record<string, string> } | { kind: 'error'; problem: string };

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

/** Whether a hold exists and its TTL: what PTTL alone tells (any type under the key is a hold). */
export interface HoldTtl {
  present: boolean;
  /** Remaining TTL in ms; null when there is no hold or it has no expiry. */
  ttlMs: number | null;
}

export interface HoldView extends HoldTtl {
  owner: HoldOwner | null;
  /** PEXPIRETIME (ms since the epoch); null without a hold, without expiry, or Redis < 7. */
  expireTimeMs: number | null;
  /** The owner marker's raw value (null when absent or unreadable). */
  marker: string | null;
}

/** The hold's replies, as numbers and text. */
export interface HoldReplies {
  /** PTTL of the hold key: ms, -1 without expiry, -2 absent. */
  pttlMs: number;
  /** PEXPIRETIME of the hold key: ms, -1 without expiry, -2 absent; null unknown (Redis < 7). */
  expireTimeMs: number | null;
  /** The owner marker: its value, null when absent, undefined when it is not a string. */
  marker: string | null | undefined;
}

function text(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  const trimmed = raw.trim();
  return trimmed === '' ? null : trimmed;
}

export function snapshotFrom(read: HashRead): SnapshotRead {
  return read.kind === 'hash'
    ? decodeSnapshot(read.fields)
    : { kind: 'invalid', problem: read.problem };
}

/** The lot size; null when absent, undecodable or unreadable (ε then falls back to the default). */
export function lotSizeFrom(read: HashRead): LotSize | null {
  return read.kind === 'hash' ? decodeLotSize(read.fields) : null;
}

/** The ledger, decoded with ε(SYM) = half the symbol's lot step (SPEC §4). */
export function ledgerFrom(read: HashRead, lotSize: LotSize | null): LedgerRead {
  return read.kind === 'hash'
    ? decodeLedger(read.fields, epsilonFor(lotSize?.stepSize))
    : { kind: 'invalid', problem: read.problem, rawVersion: '' };
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

export function reconcileStateFrom(read: HashRead): ReconcileStateRead {
  return read.kind === 'hash'
    ? decodeReconcileState(read.fields)
    : { kind: 'invalid', problem: read.problem };
}

export function holdTtlFrom(pttlMs: number): HoldTtl {
  const present = pttlMs !== -2;
  return { present, ttlMs: present && pttlMs >= 0 ? pttlMs : null };
}

/** The hold and its owner (src/domain/hold-owner.ts) from PTTL, PEXPIRETIME and the marker. */
export function holdFrom(replies: HoldReplies): HoldView {
  const { present, ttlMs } = holdTtlFrom(replies.pttlMs);
  const at = replies.expireTimeMs;
  const expire = at !== null && at > 0 ? at : null;
  return {
    present,
    owner: decideHoldOwner({
      present,
      expireTimeMs: present && at === -1 ? -1 : expire,
      marker: replies.marker,
    }),
    ttlMs,
    expireTimeMs: present ? expire : null,
    marker: replies.marker ?? null,
  };
}
