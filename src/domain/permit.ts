/**
 * The P3.3 permit codec (SPEC §5): `P:permit:p33:PLAN`, a JSON string written by the
 * brain and consumed by the gate.
 *
 * Allow: `{plan_id, symbol, allow:true, safe_close_qty, exchange_position_amt,
 * ledger_position_amt, snapshot_age_sec, ts_epoch, ts_ms, requested_qty, close_fraction,
 * step_size}`. Deny: `{plan_id, symbol, allow:false, reason, details, ts_epoch, ts_ms}`,
 * where `details` carries the first failure's details (the seed's shape) plus `failed`,
 * every failing check.
 *
 * Quantities are JSON numbers written from the decimal's own text, so `safe_close_qty`
 * reads `0.028`, never `0.028000000000000001` (LESSONS #9).
 */
import { type Amount, Decimal, formatAmount, parseAmount } from './amount.js';
import type { DenyDecision, Details, DetailValue, PermitDecision } from './permit-rules.js';

export interface PermitIdentity {
  planId: string;
  symbol: string;
  nowMs: number;
}

type JsonInput = DetailValue | JsonInput[] | { [key: string]: JsonInput };

/** JSON text in which decimals appear as exact number literals. */
export function jsonWithDecimals(value: JsonInput): string {
  if (value === null) return 'null';
  if (Decimal.isDecimal(value)) return value.isFinite() ? formatAmount(value) : 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jsonWithDecimals).join(',')}]`;
  const parts = Object.entries(value).map(
    ([k, v]) => `${JSON.stringify(k)}:${jsonWithDecimals(v)}`,
  );
  return `{${parts.join(',')}}`;
}

function denyDetails(decision: DenyDecision): { [key: string]: JsonInput } {
  const first = decision.failed[0]?.details ?? {};
  const failed = decision.failed.map((f) => ({ check: f.check, reason: f.reason, ...f.details }));
  return { ...first, failed };
}

/** The permit JSON for a decision. */
export function encodePermit(decision: PermitDecision, id: PermitIdentity): string {
  const stamp = { ts_epoch: Math.floor(id.nowMs / 1000), ts_ms: id.nowMs };
  if (!decision.allow) {
    return jsonWithDecimals({
      plan_id: id.planId,
      symbol: id.symbol,
      allow: false,
      reason: decision.reason,
      details: denyDetails(decision),
      ...stamp,
    });
  }
  return jsonWithDecimals({
    plan_id: id.planId,
    symbol: id.symbol,
    allow: true,
    safe_close_qty: decision.safeCloseQty,
    exchange_position_amt: decision.exchangeAmt,
    ledger_position_amt: decision.ledgerAmt,
    snapshot_age_sec: decision.snapshotAgeSec,
    ...stamp,
    requested_qty: decision.requestedQty,
    close_fraction: decision.closeFraction,
    step_size: decision.stepSize,
  });
}

/** The deny written when an evaluation throws (LESSONS #13): silence is never an answer. */
export function internalErrorDecision(problem: string): DenyDecision {
  const details: Details = { problem: problem.slice(0, 300) };
  return {
    allow: false,
    reason: 'internal_error',
    failed: [{ check: -1, reason: 'internal_error', details }],
  };
}

export interface AllowPermit {
  planId: string;
  symbol: string;
  safeCloseQty: Amount;
  exchangeAmt: Amount | null;
  ledgerAmt: Amount | null;
  snapshotAgeSec: number | null;
  tsMs: number | null;
  raw: Record<string, unknown>;
}

export interface DenyPermit {
  planId: string;
  symbol: string;
  /** The brain's reason (a DenyReason); `unknown` when the writer gave none. */
  reason: string;
  details: Record<string, unknown>;
  tsMs: number | null;
  raw: Record<string, unknown>;
}

export type PermitRead =
  | { kind: 'missing' }
  | { kind: 'invalid'; problem: string }
  | { kind: 'allow'; permit: AllowPermit }
  | { kind: 'deny'; permit: DenyPermit };

/**
 * The decimal of a quantity exactly as written. A JSON number is read from its literal text
 * (never through a float); a literal that is not a valid amount (see parseAmount), or that
 * is not the value JSON.parse saw (a duplicate or nested key), is unreadable — never
 * approximated. A decimal string is read as such.
 */
function literal(text: string, field: string, parsed: unknown): Amount | null {
  if (typeof parsed !== 'number') return parseAmount(parsed);
  const written = new RegExp(`"${field}"\\s*:\\s*(-?[0-9][0-9.eE+-]*)`).exec(text)?.[1];
  const exact = written === undefined ? null : parseAmount(written);
  return exact !== null && exact.toNumber() === parsed ? exact : null;
}

function timeMs(raw: Record<string, unknown>): number | null {
  if (typeof raw.ts_ms === 'number' && Number.isFinite(raw.ts_ms)) return raw.ts_ms;
  if (typeof raw.ts_epoch === 'number' && Number.isFinite(raw.ts_epoch)) return raw.ts_epoch * 1000;
  return null;
}

/**
 * Reads a permit value as GET returns it (string, or null when absent). Total: wrong
 * types and garbage are `invalid`, never an exception and never an allow.
 */
export function decodePermit(value: unknown): PermitRead {
  if (value === null || value === undefined) return { kind: 'missing' };
  if (typeof value !== 'string')
    return { kind: 'invalid', problem: `permit is a ${typeof value}, not a JSON string` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return { kind: 'invalid', problem: 'permit is not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { kind: 'invalid', problem: 'permit is not a JSON object' };
  }
  const raw = parsed as Record<string, unknown>;
  if (typeof raw.plan_id !== 'string' || typeof raw.symbol !== 'string') {
    return { kind: 'invalid', problem: 'permit has no plan_id/symbol strings' };
  }
  const base = { planId: raw.plan_id, symbol: raw.symbol, tsMs: timeMs(raw), raw };
  if (raw.allow === false) {
    const details =
      typeof raw.details === 'object' && raw.details !== null
        ? (raw.details as Record<string, unknown>)
        : {};
    return {
      kind: 'deny',
      permit: { ...base, reason: typeof raw.reason === 'string' ? raw.reason : 'unknown', details },
    };
  }
  if (raw.allow !== true)
    return { kind: 'invalid', problem: 'permit allow is neither true nor false' };
  const safe = literal(value, 'safe_close_qty', raw.safe_close_qty);
  if (safe === null || !safe.gt(0))
    return { kind: 'invalid', problem: 'allow permit without a positive safe_close_qty' };
  return {
    kind: 'allow',
    permit: {
      ...base,
      safeCloseQty: safe,
      exchangeAmt: literal(value, 'exchange_position_amt', raw.exchange_position_amt),
      ledgerAmt: literal(value, 'ledger_position_amt', raw.ledger_position_amt),
      snapshotAgeSec: typeof raw.snapshot_age_sec === 'number' ? raw.snapshot_age_sec : null,
    },
  };
}
