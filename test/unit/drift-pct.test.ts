/** The SPEC's two drift percentages (src/domain/drift-pct.ts): same inputs, different bases. */
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/amount.js';
import { permitQtyMismatchPct, reconcileDiffPct } from '../../src/domain/drift-pct.js';

const d = (v: string) => new Decimal(v);

describe('reconcileDiffPct (SPEC §7: against the larger magnitude)', () => {
  it('computes diff_pct against the larger magnitude; 0 when both are zero', () => {
    expect(reconcileDiffPct(d('0.050'), d('0.045')).toFixed()).toBe('10');
    expect(reconcileDiffPct(d('0.045'), d('0.050')).toFixed()).toBe('10');
    expect(reconcileDiffPct(d('0'), d('0.045')).toFixed()).toBe('100');
    expect(reconcileDiffPct(d('0'), d('0')).toFixed()).toBe('0');
  });
});

describe('permitQtyMismatchPct (SPEC §5 check 5: against the exchange amount)', () => {
  it('measures the ledger against the exchange position; no percentage of no position', () => {
    expect(permitQtyMismatchPct(d('0.050'), d('0.045'))?.toFixed()).toBe('10');
    expect(permitQtyMismatchPct(d('0.045'), d('0.050'))?.toDecimalPlaces(4).toFixed()).toBe(
      '11.1111',
    );
    expect(permitQtyMismatchPct(d('-0.040'), d('-0.038'))?.toFixed()).toBe('5');
    expect(permitQtyMismatchPct(d('0'), d('0.045'))).toBeNull();
  });
});
