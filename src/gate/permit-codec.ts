/**
 * Reading the two permits a plan needs (SPEC §5, §6): the P3.3 permit the brain writes
 * and the P3.2 Governor's permit. Pure: no Redis here.
 *
 * The accepted forms are exactly those `gate_consume.lua` accepts, so the CLI's
 * `permit show` and the gate never disagree about whether a permit would pass.
 * Decimals are read from the permit's own text (never via a binary float), so
 * `safe_close_qty` comes out exactly as written.
 */
import { type Amount, parseAmount } from '../domain/amount.js';
import { topLevelRawNumbers } from './json-raw-numbers.js';

export interface P33Permit {
  planId: string | null;
  symbol: string | null;
  allow: boolean;
  /** In (0, 1e18) when present and well-formed; null when absent or malformed. */
  safeCloseQty: Amount | null;
  reason: string | null;
  details: unknown;
  exchangePositionAmt: Amount | null;
  ledgerPositionAmt: Amount | null;
  requestedQty: Amount | null;
  stepSize: Amount | null;
  snapshotAgeSec: number | null;
  tsEpoch: number | null;
  /** Every member as JSON.parse read it. */
  fields: Readonly<Record<string, unknown>>;
}

export interface GovernorPermit {
  granted: boolean;
  fields: Readonly<Record<string, unknown>>;
}

export type PermitRead<T> = { kind: 'ok'; permit: T } | { kind: 'invalid'; problem: string };

const TRUE_WORDS = new Set(['true', '1', 'yes']);
/** Exclusive upper bound of a usable safe_close_qty (as in gate_consume.lua). */
const MAX_QTY = 1e18;

/** `true`, `1`, or "true"/"1"/"yes" in any case — the same set as gate_consume.lua. */
export function isPermitTrue(value: unknown): boolean {
  if (value === true || value === 1) return true;
  return typeof value === 'string' && TRUE_WORDS.has(value.toLowerCase());
}

function parseObject(raw: string): Record<string, unknown> | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return 'not JSON';
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return 'not a JSON object';
  }
  return parsed as Record<string, unknown>;
}

function optionalText(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function optionalNumber(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

export function decodeP33Permit(raw: string): PermitRead<P33Permit> {
  const fields = parseObject(raw);
  if (typeof fields === 'string') return { kind: 'invalid', problem: fields };
  const rawNumbers = topLevelRawNumbers(raw) ?? new Map<string, string>();
  // The literal text first; a string value or the parsed number as the fallback.
  const decimal = (name: string): Amount | null => {
    const text = rawNumbers.get(name);
    const value = fields[name];
    // Strict like gate_consume.lua: a decimal string with surrounding blanks is not a decimal.
    if (typeof value === 'string' && value !== value.trim()) return null;
    return (text === undefined ? null : parseAmount(text)) ?? parseAmount(value);
  };
  const allow = isPermitTrue(fields.allow);
  const qty = decimal('safe_close_qty');
  // The gate script sees the quantity as a double; the same bounds on the same double
  // (rounding is monotonic) make the script and this codec agree on every input.
  const qtyDouble = qty === null ? 0 : qty.toNumber();
  return {
    kind: 'ok',
    permit: {
      planId: optionalText(fields.plan_id),
      symbol: optionalText(fields.symbol),
      allow,
      safeCloseQty: qty !== null && qtyDouble > 0 && qtyDouble < MAX_QTY ? qty : null,
      reason: optionalText(fields.reason),
      details: fields.details ?? null,
      exchangePositionAmt: decimal('exchange_position_amt'),
      ledgerPositionAmt: decimal('ledger_position_amt'),
      requestedQty: decimal('requested_qty'),
      stepSize: decimal('step_size'),
      snapshotAgeSec: optionalNumber(fields.snapshot_age_sec),
      tsEpoch: optionalNumber(fields.ts_epoch),
      fields,
    },
  };
}

export function decodeGovernorPermit(raw: string): PermitRead<GovernorPermit> {
  const fields = parseObject(raw);
  if (typeof fields === 'string') return { kind: 'invalid', problem: fields };
  return { kind: 'ok', permit: { granted: isPermitTrue(fields.granted), fields } };
}

/** Whether the gate would accept this P3.3 permit (allow and a positive quantity). */
export function p33PermitPasses(permit: P33Permit): boolean {
  return permit.allow && permit.safeCloseQty !== null;
}
