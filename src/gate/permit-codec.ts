/**
 * What the gate accepts, in TypeScript, exactly as `gate_consume.lua` does (SPEC §6).
 * Pure: no Redis here. The P3.3 permit itself is read with the brain's codec
 * (`decodePermit`, src/domain/permit.ts); this module adds the Governor permit, which is
 * not ours and so is read tolerantly, and the gate's own bound on `safe_close_qty`.
 */
import type { Amount } from '../domain/amount.js';
import { type PermitRead, decodePermit } from '../domain/permit.js';

export interface GovernorPermit {
  granted: boolean;
  fields: Readonly<Record<string, unknown>>;
}

export type GovernorRead =
  { kind: 'ok'; permit: GovernorPermit } | { kind: 'invalid'; problem: string };

const TRUE_WORDS = new Set(['true', '1', 'yes']);
/** Exclusive upper bound of a usable safe_close_qty (as in gate_consume.lua). */
const MAX_QTY = 1e18;

/** `true`, `1`, or "true"/"1"/"yes" in any case — the Governor forms gate_consume.lua accepts. */
export function isPermitTrue(value: unknown): boolean {
  if (value === true || value === 1) return true;
  return typeof value === 'string' && TRUE_WORDS.has(value.toLowerCase());
}

export function decodeGovernorPermit(raw: string): GovernorRead {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { kind: 'invalid', problem: 'not JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { kind: 'invalid', problem: 'not a JSON object' };
  }
  const fields = parsed as Record<string, unknown>;
  return { kind: 'ok', permit: { granted: isPermitTrue(fields.granted), fields } };
}

/**
 * The gate's bound on the quantity: the script sees it as a double and requires
 * 0 < q < 1e18, and a decimal string without surrounding blanks. Rounding to a double is
 * monotonic, so the same test on the same decimal makes script and TypeScript agree.
 */
export function gateAcceptsQty(qty: Amount, rawValue: unknown): boolean {
  if (typeof rawValue === 'string' && rawValue !== rawValue.trim()) return false;
  const double = qty.toNumber();
  return double > 0 && double < MAX_QTY;
}

/** Whether gate_consume.lua would pass this P3.3 permit text (on the P3.3 side). */
export function p33PermitPasses(read: PermitRead): boolean {
  return (
    read.kind === 'allow' &&
    gateAcceptsQty(read.permit.safeCloseQty, read.permit.raw.safe_close_qty)
  );
}

export { decodePermit };
