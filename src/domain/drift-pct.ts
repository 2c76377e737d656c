/**
 * The two drift percentages of the SPEC, named so a reader can tell them apart. They differ
 * in the base: the brain's permit check measures the ledger against the exchange's position,
 * the engine measures the difference against the larger of the two.
 */
import { type Amount, Decimal, ZERO } from './amount.js';

/**
 * SPEC §5 check 5 (the brain's permit): `|ex − ledger| / |ex| × 100`. Null when the exchange
 * amount is zero: a percentage of no position means nothing (check 5's `no_position` row
 * says it instead).
 */
export function permitQtyMismatchPct(exchange: Amount, ledger: Amount): Amount | null {
  if (exchange.isZero()) return null;
  return exchange.minus(ledger).abs().div(exchange.abs()).mul(100);
}

/**
 * SPEC §7 (the engine's `diff_pct`, compared with P34_QTY_DRIFT_TOLERANCE_PCT):
 * `|ex − ledger| / max(|ex|, |ledger|) × 100`; 0 when both are zero.
 */
export function reconcileDiffPct(exchange: Amount, ledger: Amount): Amount {
  const base = Decimal.max(exchange.abs(), ledger.abs());
  if (base.isZero()) return ZERO;
  return exchange.minus(ledger).abs().div(base).mul(100);
}
