import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Decimal,
  amountsEqual,
  epsilonFor,
  formatAmount,
  parseAmount,
  parseSide,
  sideOf,
} from '../../src/domain/amount.js';
import { floorToStep } from '../../src/domain/lot-size.js';
import { assertProperty } from '../helpers/property.js';

describe('amounts', () => {
  it('floors 0.038 × 0.75 to 0.028 with a 0.001 step (seed rule 6)', () => {
    const safe = floorToStep(new Decimal('0.038').mul('0.75'), new Decimal('0.001'));
    expect(formatAmount(safe)).toBe('0.028');
  });

  it('reads exponent forms and never writes them', () => {
    expect(formatAmount(parseAmount('1e-05')!)).toBe('0.00001');
    expect(formatAmount(parseAmount('-2.5E+3')!)).toBe('-2500');
    expect(formatAmount(parseAmount('0.000000001')!)).toBe('0.000000001');
  });

  it('rejects what is not a finite decimal', () => {
    for (const bad of [
      '',
      ' ',
      'NaN',
      'Infinity',
      '-Infinity',
      '0x10',
      '0b1',
      '1,000',
      '1e999',
      'abc',
      '1.2.3',
      null,
      undefined,
      {},
      Number.NaN,
    ]) {
      expect(parseAmount(bad)).toBeNull();
    }
  });

  it('refuses amounts finer than 30 decimals, so everything it accepts can be written and read back', () => {
    expect(parseAmount('1e-70')).toBeNull();
    expect(parseAmount('5e-324')).toBeNull();
    expect(formatAmount(parseAmount('1e-30')!)).toBe('0.000000000000000000000000000001');
  });

  it('reads negative zero as zero', () => {
    const z = parseAmount('-0')!;
    expect(z.isZero()).toBe(true);
    expect(formatAmount(z)).toBe('0');
    expect(sideOf(z)).toBe('FLAT');
  });

  it('uses half the lot step as ε, 1e-9 when unknown', () => {
    expect(formatAmount(epsilonFor(new Decimal('0.001')))).toBe('0.0005');
    expect(formatAmount(epsilonFor(null))).toBe('0.000000001');
    expect(
      amountsEqual(new Decimal('0.0620'), new Decimal('0.0624'), epsilonFor(new Decimal('0.001'))),
    ).toBe(true);
    expect(
      amountsEqual(new Decimal('0.062'), new Decimal('0.063'), epsilonFor(new Decimal('0.001'))),
    ).toBe(false);
  });

  it('reads sides case-insensitively; NONE and "" let the sign decide', () => {
    expect(parseSide('long')).toBe('LONG');
    expect(parseSide('SHORT')).toBe('SHORT');
    expect(parseSide('NONE')).toBeNull();
    expect(parseSide('')).toBeNull();
  });

  it('round-trips any decimal through its canonical text', () => {
    assertProperty(
      fc.property(
        fc.integer({ min: -1e12, max: 1e12 }),
        fc.integer({ min: 0, max: 12 }),
        (units, scale) => {
          const value = new Decimal(units).div(new Decimal(10).pow(scale));
          const text = formatAmount(value);
          expect(text).not.toMatch(/e/i);
          expect(parseAmount(text)!.eq(value)).toBe(true);
        },
      ),
    );
  });
});
