import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  Decimal,
  amountsEqual,
  epsilonFor,
  formatAmount,
  sideOf,
} from '../../src/domain/amount.js';
import { applyFill, decodeLedger, encodeLedger } from '../../src/domain/ledger.js';
import { LEDGER_MEANINGS, loadPeerShapes } from '../helpers/peer-shapes.js';
import { assertProperty } from '../helpers/property.js';

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
    assertProperty(
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
    assertProperty(
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

const SHAPES = loadPeerShapes();

describe('ledger hashes the earlier system wrote (peer_shapes.json), each read as its meaning says', () => {
  it('has a meaning for every fixture ledger', () => {
    expect(LEDGER_MEANINGS).toHaveLength(SHAPES.ledger.length);
  });

  it.each(SHAPES.ledger.map((r, i) => [i, r.shape, r.fields ?? {}, LEDGER_MEANINGS[i]] as const))(
    'ledger %i (%s)',
    (_i, _shape, fields, meaning) => {
      const read = decodeLedger(fields, eps);
      if (meaning?.kind === 'no_amount') expect(read.kind).toBe('missing');
      else if (meaning?.kind === 'ambiguous') expect(read.kind).toBe('invalid');
      else {
        if (read.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(read)}`);
        const want = new Decimal(meaning?.amount ?? 'NaN');
        expect(amountsEqual(read.ledger.amount, want, eps), formatAmount(read.ledger.amount)).toBe(
          true,
        );
        expect(read.ledger.side).toBe(sideOf(want, eps));
      }
    },
  );
});

describe('legacy amounts and the side written with them', () => {
  it('last_known_amt takes its direction from last_side (absolute writers), before last_known_side', () => {
    expect(formatAmount(ok({ last_known_amt: '0.2', last_side: 'SHORT' }).amount)).toBe('-0.2');
    expect(formatAmount(ok({ last_known_amt: '-0.2', last_side: 'SHORT' }).amount)).toBe('-0.2');
    expect(formatAmount(ok({ last_known_amt: '-0.2', last_side: 'LONG' }).amount)).toBe('0.2');
    const both = { last_known_amt: '0.2', last_side: 'SHORT', last_known_side: 'LONG' };
    expect(formatAmount(ok(both).amount)).toBe('-0.2');
    const blank = { last_known_amt: '0.2', last_side: '', last_known_side: 'SHORT' };
    expect(formatAmount(ok(blank).amount)).toBe('-0.2');
    expect(formatAmount(ok({ last_known_amt: '0.2' }).amount)).toBe('0.2');
    expect(decodeLedger({ last_known_amt: '0.2', last_side: 'FLAT' }, eps).kind).toBe('invalid');
  });

  it('an order side or UNKNOWN beside a positive legacy amount is invalid (it may be absolute); a negative one is signed', () => {
    for (const side of ['SELL', 'BUY', 'UNKNOWN', 'BOTH']) {
      const read = decodeLedger({ last_known_amt: '0.002', last_side: side }, eps);
      expect(read.kind, side).toBe('invalid');
      if (read.kind === 'invalid') expect(read.problem).toContain('last_side');
      expect(formatAmount(ok({ last_known_amt: '-0.002', last_side: side }).amount)).toBe('-0.002');
      expect(ok({ last_known_amt: '0.0', last_side: side }).amount.isZero()).toBe(true);
    }
    const withMirror = { last_known_amt: '0.002', last_side: 'SELL', last_known_side: 'LONG' };
    expect(decodeLedger(withMirror, eps).kind).toBe('invalid');
  });

  it('position_amt (a snapshot copy) is read last, with its `side`', () => {
    expect(formatAmount(ok({ position_amt: '0.15', side: 'SHORT' }).amount)).toBe('-0.15');
    expect(formatAmount(ok({ position_amt: '-0.25' }).amount)).toBe('-0.25');
    expect(ok({ position_amt: '0.0', side: 'NONE' }).side).toBe('FLAT');
    expect(decodeLedger({ position_amt: '0.15', side: 'SELL' }, eps).kind).toBe('invalid');
    const lastKnownFirst = { last_known_amt: '0.1', last_side: 'LONG', position_amt: '0.15' };
    expect(formatAmount(ok({ ...lastKnownFirst, side: 'SHORT' }).amount)).toBe('0.1');
  });

  it('ledger_amt is read with ledger_side only: legacy sides never flip a canonical amount', () => {
    const merged = { ledger_amt: '0.2', last_known_amt: '0.3', last_side: 'SHORT', side: 'SHORT' };
    expect(formatAmount(ok(merged).amount)).toBe('0.2');
    expect(formatAmount(ok({ ledger_amt: '0.2', last_side: 'SELL' }).amount)).toBe('0.2');
  });
});

describe('after a posguard write, no stale legacy field contradicts the new amount', () => {
  it('every fixture hash overwritten by encodeLedger reads the written amount, through any field shape', () => {
    const stale = SHAPES.ledger.map((r) => r.fields ?? {});
    assertProperty(
      fc.property(
        fc.constantFrom(...stale),
        fc.integer({ min: -1e6, max: 1e6 }),
        fc.nat({ max: 100 }),
        (before, units, version) => {
          const amount = new Decimal(units).div(1000);
          const after = {
            ...before,
            ...encodeLedger({
              amount,
              source: 'apply',
              nowMs: 1_700_000_000_000,
              previousVersion: version,
            }),
          };
          expect(ok(after).amount.eq(amount)).toBe(true);
          // A peer that reads only the legacy pair (or a hash whose canonical fields were
          // removed by hand) reads the same amount: last_side was written with last_known_amt.
          const legacyOnly: Record<string, string> = { ...after };
          delete legacyOnly.ledger_amt;
          delete legacyOnly.ledger_side;
          expect(ok(legacyOnly).amount.eq(amount)).toBe(true);
        },
      ),
    );
  });

  it('writes last_side with the position side (never an order side)', () => {
    const short = encodeLedger({
      amount: new Decimal('-0.2'),
      source: 'p34_init',
      nowMs: 1,
      previousVersion: 0,
    });
    expect(short).toMatchObject({ last_known_amt: '-0.2', last_side: 'SHORT' });
    const flat = encodeLedger({
      amount: new Decimal(0),
      source: 'apply',
      nowMs: 1,
      previousVersion: 0,
    });
    expect(flat).toMatchObject({ last_known_amt: '0', last_side: 'FLAT' });
  });
});
