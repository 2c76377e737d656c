/**
 * Typed wrapper of `reconcile_commit.lua`: pure payload encoding and reply decoding, and
 * queueing on the cycle's write pipeline. The script is the only writer of the state
 * hash, the engine's holds, reconcile events and the engine's ledger writes.
 */
import type { ChainableCommander } from 'ioredis';
import { type Amount, formatAmount, sideOf } from '../domain/amount.js';
import type { Decision } from '../domain/drift.js';
import { LEDGER_AMOUNT_FIELDS, encodeLedger } from '../domain/ledger.js';
import { type Keys, isKeySafeOrderId } from '../redis/keys.js';
import { LuaScript } from '../redis/lua-script.js';

export const reconcileCommitScript = LuaScript.load('reconcile_commit');

/** The events stream is capped (SPEC §1). */
export const EVENTS_MAXLEN = 10000;

export type CommitCode = 'ok' | 'conflict' | 'evidence_used' | 'evidence_applied';
export type HoldBy = 'p34' | 'shared' | 'foreign' | '';

export interface CommitReply {
  code: CommitCode;
  holdBy: HoldBy;
  /** A hold episode started (or changed reason) in this call. */
  newEpisode: boolean;
  events: number;
  /** The episode's hold was gone (deleted, expired) and the engine set it again. */
  holdLost: boolean;
}

/** A key of the wrong type: the script refused before writing anything. */
export interface WrongTypeReply {
  code: 'wrong_type';
  key: string;
  /** The key's type (`string`, `list`, …). */
  found: string;
}

export interface CommitSettings {
  nowMs: number;
  holdTtlMs: number;
  ledgerTtlMs: number;
  /** How long an evidence entry stays marked used (2 × window). */
  evidenceTtlMs: number;
}

/**
 * Ledger fields compared before an init or repair: the version and every field an amount or
 * its direction is read from (any shape: `LEDGER_AMOUNT_FIELDS`), so any writer's change —
 * an operator's `HSET ledger_amt` without a version bump, a peer's `last_known_amt` with
 * `last_side` — is a conflict.
 */
export const CAS_FIELDS: readonly string[] = ['version', ...LEDGER_AMOUNT_FIELDS];

function text(amount: Amount | null): string {
  return amount === null ? '' : formatAmount(amount);
}

function pctText(pct: Amount | null): string {
  return pct === null ? '' : formatAmount(pct.toDecimalPlaces(6));
}

function sideText(amount: Amount | null): string {
  return amount === null ? '' : sideOf(amount);
}

function ageText(ageSec: number | null): string {
  return ageSec === null ? '' : ageSec.toFixed(3);
}

/** The state fields a cycle writes from its decision (besides status, liveness and holds). */
export const STATE_FIELDS = [
  'exchange_amt',
  'ledger_amt',
  'diff_amt',
  'diff_pct',
  'exchange_side',
  'ledger_side',
  'snapshot_age_sec',
  'detail',
] as const;

/** The values of STATE_FIELDS, in that order (init and repair align the ledger). */
export function stateValues(d: Decision): string[] {
  const aligned = d.action === 'ledger_init' || d.action === 'auto_repair';
  const ledger = aligned ? d.exchangeAmt : d.ledgerAmt;
  return [
    text(d.exchangeAmt),
    text(ledger),
    aligned ? '0' : text(d.diffAmt),
    aligned ? '0' : pctText(d.diffPct),
    sideText(d.exchangeAmt),
    sideText(ledger),
    ageText(d.snapshotAgeSec),
    d.detail,
  ];
}

function stateFields(d: Decision): Record<string, string> {
  const values = stateValues(d);
  const fields: Record<string, string> = {};
  STATE_FIELDS.forEach((name, i) => (fields[name] = values[i] ?? ''));
  return fields;
}

function eventDetails(d: Decision, s: CommitSettings): Record<string, string> {
  return {
    status: d.status,
    exchange_amt: text(d.exchangeAmt),
    ledger_amt: text(d.ledgerAmt),
    diff_amt: text(d.diffAmt),
    diff_pct: pctText(d.diffPct),
    snapshot_age_sec: ageText(d.snapshotAgeSec),
    hold_ttl_sec: String(s.holdTtlMs / 1000),
    detail: d.detail,
  };
}

function expectedLedger(rawLedger: Record<string, string>): Record<string, string> {
  const expect: Record<string, string> = {};
  for (const field of CAS_FIELDS) expect[field] = rawLedger[field] ?? '';
  return expect;
}

/** Ledger fields and event fields of an init or repair; throws if the decision cannot carry one. */
function ledgerChange(
  d: Decision,
  s: CommitSettings,
): { ledger: Record<string, string>; event: Record<string, string> } {
  if (d.exchangeAmt === null || d.ledgerVersion === null) {
    throw new Error(
      `decision ${d.status}/${d.reason} for ${d.symbol} has no exchange amount or ledger version`,
    );
  }
  const ledger = encodeLedger({
    amount: d.exchangeAmt,
    source: d.action === 'ledger_init' ? 'p34_init' : 'p34_auto',
    nowMs: s.nowMs,
    previousVersion: d.ledgerVersion,
  });
  const event: Record<string, string> = {
    new_ledger_amt: ledger.ledger_amt as string,
    ledger_version: ledger.version as string,
  };
  if (d.action === 'auto_repair' && d.evidence) {
    Object.assign(event, {
      old_ledger_amt: text(d.ledgerAmt),
      evidence_plan_id: d.evidence.planId ?? '',
      evidence_order_id: d.evidence.orderId ?? '',
      evidence_entry_ids: d.evidence.entryIds.join(','),
      evidence_kind: d.evidence.kind,
      evidence_qty: formatAmount(d.evidence.signedQty),
    });
  }
  return { ledger, event };
}

/**
 * The order-accounted marker of a repair (SPEC §4, §7 row 8): a repair from an unconfirmed
 * order accounts for the whole order, so it sets the marker and the brain never applies a
 * confirmed fill of that order afterwards (`set`); a repair from one fill is refused when its
 * order was already accounted that way (`check`). Pending sums span several orders and carry
 * none; neither does an order id that cannot be part of a key.
 */
export function orderMarker(d: Decision): { mode: 'set' | 'check'; orderId: string } | null {
  const evidence = d.evidence;
  if (evidence === null || !isKeySafeOrderId(evidence.orderId)) return null;
  if (evidence.kind === 'unconfirmed_order') return { mode: 'set', orderId: evidence.orderId };
  if (evidence.kind === 'single_fill') return { mode: 'check', orderId: evidence.orderId };
  return null;
}

export interface ScriptCommit {
  kind: 'script';
  keys: string[];
  args: [string];
}

/** Builds KEYS and the JSON argument of one symbol's commit. */
export function encodeCommit(
  keys: Keys,
  d: Decision,
  rawLedger: Record<string, string>,
  s: CommitSettings,
): ScriptCommit {
  const sym = d.symbol;
  const scriptKeys = [
    keys.hold(sym),
    keys.holdOwner(sym),
    keys.reconcileState(sym),
    keys.reconcileEventsStream,
    keys.ledger(sym),
  ];
  const action =
    d.action === 'ledger_init' ? 'init' : d.action === 'auto_repair' ? 'repair' : 'status';
  const payload: Record<string, unknown> = {
    action,
    symbol: sym,
    status: d.status,
    reason: d.reason,
    hold_policy: d.holdPolicy,
    now_ms: String(s.nowMs),
    ts: String(Math.floor(s.nowMs / 1000)),
    hold_ttl_ms: String(Math.max(1, Math.round(s.holdTtlMs))),
    events_maxlen: String(EVENTS_MAXLEN),
    state: stateFields(d),
    details: eventDetails(d, s),
  };
  if (action !== 'status') {
    const change = ledgerChange(d, s);
    Object.assign(payload, {
      expect: expectedLedger(rawLedger),
      ledger: change.ledger,
      event: change.event,
      ledger_ttl_ms: String(Math.max(1, Math.round(s.ledgerTtlMs))),
      evidence_ttl_ms: String(Math.max(1, Math.round(s.evidenceTtlMs))),
      // The brain must never apply a fill the repair accounted for, for as long as a ledger lives.
      applied_ttl_ms: String(Math.max(1, Math.round(Math.max(s.ledgerTtlMs, s.evidenceTtlMs)))),
    });
  }
  if (action === 'repair') {
    for (const id of d.evidence?.entryIds ?? [])
      scriptKeys.push(keys.evidenceUsed(id), keys.resultApplied(id));
    const marker = orderMarker(d);
    payload.order_marker = marker?.mode ?? '';
    if (marker) scriptKeys.push(keys.orderAccounted(sym, marker.orderId));
  }
  return { kind: 'script', keys: scriptKeys, args: [JSON.stringify(payload)] };
}

const CODES: ReadonlySet<string> = new Set(['ok', 'conflict', 'evidence_used', 'evidence_applied']);
const HOLDERS: ReadonlySet<string> = new Set(['p34', 'shared', 'foreign', '']);

export function decodeCommitReply(reply: unknown): CommitReply | WrongTypeReply | null {
  if (!Array.isArray(reply)) return null;
  if (reply.length === 3 && reply[0] === 'wrong_type') {
    const [, key, found] = reply as unknown[];
    if (typeof key !== 'string' || typeof found !== 'string') return null;
    return { code: 'wrong_type', key, found };
  }
  if (reply.length !== 5) return null;
  const [code, holdBy, newEpisode, events, holdLost] = reply as unknown[];
  if (typeof code !== 'string' || !CODES.has(code)) return null;
  if (typeof holdBy !== 'string' || !HOLDERS.has(holdBy)) return null;
  if (typeof newEpisode !== 'number' || typeof events !== 'number') return null;
  if (holdLost !== 0 && holdLost !== 1) return null;
  return {
    code: code as CommitCode,
    holdBy: holdBy as HoldBy,
    newEpisode: newEpisode === 1,
    events,
    holdLost: holdLost === 1,
  };
}

/** What a refused key means for operators: which key, and what it should have been. */
export function wrongTypeProblem(reply: WrongTypeReply): string {
  return `${reply.key} is a ${reply.found}, not the type the engine writes there; nothing written for this symbol (inspect it with redis-cli TYPE, then fix or delete it)`;
}

export function queueCommit(pipeline: ChainableCommander, commit: ScriptCommit): void {
  reconcileCommitScript.queue(pipeline, commit.keys, commit.args);
}
