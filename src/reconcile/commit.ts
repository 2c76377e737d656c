/**
 * A symbol's decision as the arguments of its `reconcile_commit` call (spec:
 * src/redis/scripts/reconcile-commit.ts): the state fields, the event details, and for an
 * init or repair the ledger write with its compare-and-set and evidence. Pure. The script is
 * the only writer of the state hash, the engine's holds, reconcile events and the engine's
 * ledger writes.
 */
import { type Amount, formatAmount, sideOf } from '../domain/amount.js';
import type { Decision } from '../domain/drift.js';
import { LEDGER_AMOUNT_FIELDS, encodeLedger } from '../domain/ledger.js';
import { type Keys, isKeySafeOrderId } from '../redis/keys.js';
import type {
  CommitCall,
  CommitLedgerWrite,
  CommitRepair,
  WrongTypeReply,
} from '../redis/scripts/reconcile-commit.js';

/** The events stream is capped (SPEC §1). */
export const EVENTS_MAXLEN = 10000;

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

/** The ledger write of an init or repair; throws if the decision cannot carry one. */
function ledgerWrite(
  d: Decision,
  rawLedger: Record<string, string>,
  s: CommitSettings,
): CommitLedgerWrite {
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
  return {
    expect: expectedLedger(rawLedger),
    ledger,
    event,
    ledgerTtlMs: s.ledgerTtlMs,
    evidenceTtlMs: s.evidenceTtlMs,
    // The brain must never apply a fill the repair accounted for, for as long as a ledger lives.
    appliedTtlMs: Math.max(s.ledgerTtlMs, s.evidenceTtlMs),
  };
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

/**
 * The arguments of one symbol's `reconcile_commit` call, but the writer's epoch: the
 * commit writer adds it at write time (SPEC §11).
 */
export function commitArgs(
  keys: Keys,
  d: Decision,
  rawLedger: Record<string, string>,
  s: CommitSettings,
): CommitCall {
  const action =
    d.action === 'ledger_init' ? 'init' : d.action === 'auto_repair' ? 'repair' : 'status';
  const args: CommitCall = {
    keys,
    symbol: d.symbol,
    action,
    status: d.status,
    reason: d.reason,
    holdPolicy: d.holdPolicy,
    nowMs: s.nowMs,
    holdTtlMs: s.holdTtlMs,
    eventsMaxlen: EVENTS_MAXLEN,
    state: stateFields(d),
    details: eventDetails(d, s),
  };
  if (action !== 'status') args.ledgerWrite = ledgerWrite(d, rawLedger, s);
  if (action === 'repair') args.repair = repairOf(d);
  return args;
}

function repairOf(d: Decision): CommitRepair {
  return { entryIds: d.evidence?.entryIds ?? [], orderMarker: orderMarker(d) };
}

/** What a refused key means for operators: which key, and what it should have been. */
export function wrongTypeProblem(reply: WrongTypeReply): string {
  return `${reply.key} is a ${reply.found}, not the type the engine writes there; nothing written for this symbol (inspect it with redis-cli TYPE, then fix or delete it)`;
}
