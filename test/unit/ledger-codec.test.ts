import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Decimal, epsilonFor, formatAmount } from '../../src/domain/amount.js';
import { applyFill, decodeLedger, encodeLedger } from '../../src/domain/ledger.js';

const eps = epsilonFor(new Decimal('0.001'));

function ok(hash: Record<string, string>) {
  const read = decodeLedger(hash, eps);
  if (read.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(read)}`);
  return read.ledger;
}

describe('ledger codec (LESSONS #1, #10)', () => {
  it('reads the canonical shape', () => {
    const l = ok({
      ledger_amt: '0.062',
      ledger_side: 'LONG',
      version: '42',
      source: 'apply',
      ts_epoch: '1735680000',
    });
    expect(formatAmount(l.amount)).toBe('0.062');
    expect(l.side).toBe('LONG');
    expect(l.version).toBe(42);
    expect(l.updatedMs).toBe(1735680000000);
  });

  it('reads a ledger written only in the legacy P3.3 shape', () => {
    const l = ok({
      last_known_amt: '0.062',
      last_known_side: 'LONG',
      last_order_id: '7',
      last_order_time_epoch: '1735680000',
      last_update_ts: '1735680001',
    });
    expect(formatAmount(l.amount)).toBe('0.062');
    expect(l.side).toBe('LONG');
    expect(l.lastOrderId).toBe('7');
    expect(l.lastOrderTimeMs).toBe(1735680000000);
    expect(l.version).toBe(0);
  });

  it('reads a legacy SHORT stored as a positive amount with its side (abs() writer)', () => {
    const l = ok({ last_known_amt: '0.05', last_known_side: 'SHORT' });
    expect(formatAmount(l.amount)).toBe('-0.05');
    expect(l.side).toBe('SHORT');
  });

  it('prefers ledger_amt over last_known_amt when both exist', () => {
    const l = ok({
      ledger_amt: '-0.03',
      ledger_side: 'SHORT',
      last_known_amt: '0.05',
      last_known_side: 'LONG',
    });
    expect(formatAmount(l.amount)).toBe('-0.03');
  });

  it('lets the side give direction when an operator edited only the side', () => {
    const l = ok({ ledger_amt: '-0.062', ledger_side: 'LONG' });
    expect(formatAmount(l.amount)).toBe('0.062');
    expect(l.side).toBe('LONG');
  });

  it('uses the sign when the side is NONE, empty or missing', () => {
    expect(ok({ ledger_amt: '-0.01', ledger_side: 'NONE' }).side).toBe('SHORT');
    expect(ok({ ledger_amt: '0.01', ledger_side: '' }).side).toBe('LONG');
    expect(ok({ ledger_amt: '0' }).side).toBe('FLAT');
  });

  it('treats FLAT with a non-zero amount, or a garbage amount, as invalid — never zero', () => {
    expect(decodeLedger({ ledger_amt: '0.5', ledger_side: 'FLAT' }, eps).kind).toBe('invalid');
    expect(decodeLedger({ ledger_amt: 'abc' }, eps).kind).toBe('invalid');
    expect(decodeLedger({ ledger_amt: 'NaN' }, eps).kind).toBe('invalid');
    expect(decodeLedger({ ledger_amt: '1', version: 'x' }, eps).kind).toBe('invalid');
    expect(ok({ ledger_amt: '0.0001', ledger_side: 'FLAT' }).amount.isZero()).toBe(true);
  });

  it('reports a hash without any amount as missing, keeping the order fields', () => {
    const read = decodeLedger(
      { last_order_id: '9', last_order_time_ms: '1735680000123', last_result_id: '1-0' },
      eps,
    );
    expect(read.kind).toBe('missing');
    if (read.kind === 'missing') {
      expect(read.order.lastOrderId).toBe('9');
      expect(read.order.lastOrderTimeMs).toBe(1735680000123);
      expect(read.order.lastResultId).toBe('1-0');
    }
    expect(decodeLedger({}, eps).kind).toBe('missing');
  });

  it('writes canonical fields and compatibility mirrors, bumping the version', () => {
    const fields = encodeLedger({
      amount: new Decimal('-0.05'),
      source: 'apply',
      nowMs: 1735680000123,
      previousVersion: 41,
      order: {
        lastOrderId: '11',
        lastOrderTimeMs: 1735680000000,
        lastResultId: '5-0',
        lastPlanId: 'p1',
      },
    });
    expect(fields).toMatchObject({
      ledger_amt: '-0.05',
      ledger_side: 'SHORT',
      version: '42',
      source: 'apply',
      ts_epoch: '1735680000',
      ts_ms: '1735680000123',
      last_known_amt: '-0.05',
      last_known_side: 'SHORT',
      last_update_ts: '1735680000',
      last_order_id: '11',
      last_order_time_epoch: '1735680000',
      last_order_time_ms: '1735680000000',
      last_result_id: '5-0',
      last_plan_id: 'p1',
    });
  });

  it('round-trips any amount through encode/decode, sign included', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e9, max: 1e9 }), fc.nat({ max: 1000 }), (units, version) => {
        const amount = new Decimal(units).div(1000);
        const fields = encodeLedger({
          amount,
          source: 'p34_auto',
          nowMs: 1_700_000_000_000,
          previousVersion: version,
        });
        const l = ok(fields);
        expect(l.amount.eq(amount)).toBe(true);
        expect(l.version).toBe(version + 1);
      }),
    );
  });

  it('never lets a reduce-only fill cross zero or grow the position', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1e6, max: 1e6 }),
        fc.integer({ min: -1e6, max: 1e6 }),
        (a, q) => {
          const amount = new Decimal(a).div(1000);
          const next = applyFill(amount, new Decimal(q).div(1000), true);
          expect(next.abs().lte(amount.abs())).toBe(true);
          if (!next.isZero() && !amount.isZero())
            expect(next.isNegative()).toBe(amount.isNegative());
        },
      ),
    );
    expect(formatAmount(applyFill(new Decimal('0.05'), new Decimal('-0.08'), true))).toBe('0');
    expect(formatAmount(applyFill(new Decimal('-0.05'), new Decimal('0.02'), true))).toBe('-0.03');
    expect(formatAmount(applyFill(new Decimal('0.05'), new Decimal('-0.08'), false))).toBe('-0.03');
  });
});
