/**
 * Decimal amounts (SPEC §2). Quantities and prices never touch binary floats:
 * `0.038 × 0.75` floored to a 0.001 step is `0.028`, always.
 *
 * Readers accept plain and exponent forms (`1e-05`); writers never produce exponents.
 */
import { Decimal as DecimalJs } from 'decimal.js';

/** A private Decimal flavour: generous precision, never exponent notation on output. */
export const Decimal = DecimalJs.clone({
  precision: 50,
  rounding: DecimalJs.ROUND_HALF_EVEN,
  toExpNeg: -100,
  toExpPos: 100,
});
export type Amount = InstanceType<typeof Decimal>;

export type Side = 'LONG' | 'SHORT' | 'FLAT';

/** Plain or exponent decimal; no hex/binary/octal, no NaN/Infinity, no thousands separators. */
const DECIMAL_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?$/;
/** Amounts outside this magnitude are input errors, not positions. */
const MAX_ABS = new Decimal('1e18');
const MAX_TEXT = 64;
/**
 * Finer than any exchange step by far. Bounding it keeps every accepted amount writable
 * and readable again: `formatAmount` never produces more than ~51 characters.
 */
const MAX_DECIMALS = 30;

export const ZERO = new Decimal(0);
/** ε when the symbol's lot step is unknown (SPEC §2). */
export const DEFAULT_EPSILON = new Decimal('1e-9');

/**
 * Parses a decimal from a Redis field, JSON value or stream field.
 * Returns null for anything that is not a finite decimal of sane magnitude.
 * Negative zero reads as zero.
 */
export function parseAmount(raw: unknown): Amount | null {
  let text: string;
  if (typeof raw === 'string') text = raw.trim();
  else if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) return null;
    text = String(raw);
  } else return null;
  if (text.length === 0 || text.length > MAX_TEXT || !DECIMAL_RE.test(text)) return null;
  const value = new Decimal(text);
  if (!value.isFinite() || value.abs().gt(MAX_ABS) || value.decimalPlaces() > MAX_DECIMALS) {
    return null;
  }
  return value.isZero() ? ZERO : value;
}

/** Canonical text: plain notation, no trailing zeros, `0` for any zero. */
export function formatAmount(value: Amount): string {
  return value.isZero() ? '0' : value.toFixed();
}

/** A JSON-safe number for permits; exact for the quantities exchanges use. */
export function amountToJson(value: Amount): number {
  return value.isZero() ? 0 : value.toNumber();
}

/** ε(SYM) = half the lot step when known, else 1e-9. */
export function epsilonFor(stepSize: Amount | null | undefined): Amount {
  if (stepSize && stepSize.gt(0)) return stepSize.div(2);
  return DEFAULT_EPSILON;
}

export function amountsEqual(a: Amount, b: Amount, epsilon: Amount): boolean {
  return a.minus(b).abs().lte(epsilon);
}

export function isFlat(amount: Amount, epsilon: Amount): boolean {
  return amount.abs().lte(epsilon);
}

/** Direction of a signed amount; within ε of zero is FLAT. */
export function sideOf(amount: Amount, epsilon: Amount = ZERO): Side {
  if (amount.abs().lte(epsilon)) return 'FLAT';
  return amount.isNegative() ? 'SHORT' : 'LONG';
}

/**
 * Reads a side field. LONG/SHORT/FLAT (any case) are sides; NONE and "" mean
 * "flat or unknown, let the sign decide" (null); anything else is also null.
 */
export function parseSide(raw: unknown): Side | null {
  if (typeof raw !== 'string') return null;
  const side = raw.trim().toUpperCase();
  return side === 'LONG' || side === 'SHORT' || side === 'FLAT' ? side : null;
}
