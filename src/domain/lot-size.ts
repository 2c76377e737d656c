/**
 * Exchange lot sizes (SPEC §3, §5 check 9) and the floor-to-step rounding of close sizes.
 * Close sizes are floored, never rounded to nearest, and never exceed the position (LESSONS #9).
 */
import { type Amount, formatAmount, parseAmount } from './amount.js';

export interface LotSize {
  stepSize: Amount;
  minQty: Amount;
  maxQty: Amount | null;
}

export function decodeLotSize(hash: Record<string, string>): LotSize | null {
  const stepSize = parseAmount(hash.step_size);
  const minQty = parseAmount(hash.min_qty);
  if (stepSize === null || minQty === null || !stepSize.gt(0) || minQty.isNegative()) return null;
  const maxQty = parseAmount(hash.max_qty);
  return { stepSize, minQty, maxQty: maxQty !== null && maxQty.gt(0) ? maxQty : null };
}

export function encodeLotSize(lot: LotSize, nowMs: number): Record<string, string> {
  return {
    step_size: formatAmount(lot.stepSize),
    min_qty: formatAmount(lot.minQty),
    max_qty: lot.maxQty === null ? '' : formatAmount(lot.maxQty),
    ts_ms: String(nowMs),
  };
}

/** Largest multiple of `step` that is ≤ qty (qty ≥ 0). */
export function floorToStep(qty: Amount, step: Amount): Amount {
  return qty.div(step).floor().mul(step);
}
