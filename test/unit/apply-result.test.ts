import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Decimal, ZERO, epsilonFor, formatAmount } from '../../src/domain/amount.js';
import { parseApplyResult, snapToLotStep } from '../../src/domain/apply-result.js';
import { decodeLedger, encodeLedger } from '../../src/domain/ledger.js';
import { fillWrite } from '../../src/domain/ledger-fill.js';
import { expectationOf, loadPeerShapes } from '../helpers/peer-shapes.js';
import { assertProperty } from '../helpers/property.js';

function fill(fields: Record<string, string>, id = '1735680000000-0') {
  const parsed = parseApplyResult(id, fields);
  if (parsed.kind !== 'fill') throw new Error(`expected fill, got ${JSON.stringify(parsed)}`);
  return parsed.fill;
}

describe('apply.result parser (LESSONS #2)', () => {
  it('reads executed="true" with a top-level filled_qty', () => {
    const f = fill({
      symbol: 'BTCUSDT',
      executed: 'true',
      filled_qty: '0.012',
      side: 'SELL',
      order_id: '123',
      plan_id: 'p1',
      ts: '1735680000',
    });
    expect(formatAmount(f.signedQty)).toBe('-0.012');
    expect(f.orderId).toBe('123');
    expect(f.planId).toBe('p1');
    expect(f.timeMs).toBe(1735680000000);
  });

  it('reads executed="True" with a JSON steps_results (the shape the old engine never saw)', () => {
    const steps = JSON.stringify([
      { step: 'close', order_id: 555, side: 'SELL', executed_qty: '0.010' },
      { step: 'close2', order_id: 556, side: 'SELL', executed_qty: 0.002 },
    ]);
    const f = fill({
      symbol: 'BTCUSDT',
      executed: 'True',
      steps_results: steps,
      timestamp: '1735680000123',
    });
    expect(formatAmount(f.qty)).toBe('0.012');
    expect(f.orderSide).toBe('SELL');
    expect(f.orderId).toBe('556');
    expect(f.timeMs).toBe(1735680000123);
  });

  it('accepts every spelling of executed', () => {
    for (const word of ['true', 'True', 'TRUE', '1', 'yes', 'Yes']) {
      expect(
        parseApplyResult('1-0', { symbol: 'BTCUSDT', executed: word, filled_qty: '1', side: 'BUY' })
          .kind,
      ).toBe('fill');
    }
    for (const word of ['false', 'False', '0', 'no']) {
      expect(
        parseApplyResult('1-0', { symbol: 'BTCUSDT', executed: word, filled_qty: '1', side: 'BUY' })
          .kind,
      ).toBe('not_executed');
    }
  });

  it('falls back to ts_ms, then the stream id, for the time', () => {
    expect(
      fill({
        symbol: 'ETHUSDT',
        executed: '1',
        filled_qty: '1',
        side: 'BUY',
        ts_ms: '1735680000999',
      }).timeMs,
    ).toBe(1735680000999);
    expect(
      fill({ symbol: 'ETHUSDT', executed: '1', filled_qty: '1', side: 'BUY' }, '1735680000555-3')
        .timeMs,
    ).toBe(1735680000555);
  });

  it('never reads a zero fill as a fill and flags malformed entries, never guessing', () => {
    // Executed, nothing filled, and no ordered quantity either: nothing to conclude → counted.
    expect(
      parseApplyResult('1-0', {
        symbol: 'BTCUSDT',
        executed: 'true',
        filled_qty: '0',
        side: 'SELL',
      }).kind,
    ).toBe('malformed');
    const bad: Record<string, string>[] = [
      { symbol: 'BTCUSDT', executed: 'maybe', filled_qty: '1', side: 'SELL' },
      { symbol: 'BTCUSDT', executed: 'true', filled_qty: 'lots', side: 'SELL' },
      { symbol: 'BTCUSDT', executed: 'true', filled_qty: '1' },
      { symbol: 'BTCUSDT', executed: 'true', steps_results: '{not json', side: 'SELL' },
      { symbol: 'BTC:USDT*', executed: 'true', filled_qty: '1', side: 'SELL' },
      { executed: 'true', filled_qty: '1', side: 'SELL' },
      { symbol: 'BTCUSDT', executed: 'true', filled_qty: '-1', side: 'SELL' },
    ];
    for (const fields of bad) expect(parseApplyResult('1-0', fields).kind).toBe('malformed');
  });

  it('never throws on arbitrary entries', () => {
    const key = fc.constantFrom(
      'symbol',
      'executed',
      'filled_qty',
      'side',
      'order_id',
      'steps_results',
      'ts',
      'timestamp',
      'ts_ms',
      'plan_id',
      'reduce_only',
      'details',
      'close_qty',
    );
    assertProperty(
      fc.property(
        fc.dictionary(
          key,
          fc.oneof(
            fc.string(),
            fc.constantFrom(
              'true',
              'NaN',
              '1e999',
              '[{"executed_qty":"x"}]',
              '[null]',
              'BTCUSDT',
              'SELL',
              '{"executed": true, "filled_qty": "x"}',
              "{'side': 'SELL', 'qty': 0.1}",
              '[{"quantity":"0.002","executed_qty":"0.000"}]',
            ),
          ),
        ),
        (fields) => {
          const parsed = parseApplyResult('1-0', fields);
          expect(['fill', 'unconfirmed_order', 'not_executed', 'malformed']).toContain(parsed.kind);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("apply.result: the earlier system's real record shapes (SPEC §4, peer_shapes.json)", () => {
  const records = loadPeerShapes().apply_result;

  it('holds 31 records: 6 fills, 6 unconfirmed orders, 3 malformed, 16 not executed', () => {
    const kinds = records.map((r) => expectationOf(r).kind);
    const count = (k: string) => kinds.filter((x) => x === k).length;
    expect([records.length, count('fill'), count('unconfirmed_order')]).toEqual([31, 6, 6]);
    expect([count('malformed'), count('not_executed')]).toEqual([3, 16]);
  });

  it.each(records.map((r, i) => [i, r.shape, r] as const))(
    'record %i (%s) reads as its meaning says',
    (_i, _shape, record) => {
      const parsed = parseApplyResult(record.stream_id, record.fields);
      const want = expectationOf(record);
      expect(parsed.kind, record.meaning).toBe(want.kind);
      if (parsed.kind === 'fill' && want.kind === 'fill') {
        expect(parsed.fill.signedQty.eq(new Decimal(want.signed))).toBe(true);
        expect(parsed.fill.symbol).toBe(record.fields.symbol);
        expect(parsed.fill.timeMs).toBe(Number(record.fields.timestamp) * 1000);
      }
      if (parsed.kind === 'unconfirmed_order' && want.kind === 'unconfirmed_order') {
        expect(formatAmount(parsed.order.qty)).toBe(formatAmount(new Decimal(want.qty)));
        const side = want.sign === null ? null : want.sign < 0 ? 'SELL' : 'BUY';
        expect(parsed.order.orderSide).toBe(side);
        expect(parsed.order.timeMs).toBe(Number(record.fields.timestamp) * 1000);
      }
      if (parsed.kind === 'malformed') expect(parsed.problem).toMatch(/quantity/);
    },
  );

  it('reads a fill whose every detail sits only in the JSON details field', () => {
    const record = records.find((r) => r.fields.plan_id === 'exit_proof_filled_eth_001');
    const parsed = parseApplyResult('1769475167123-0', record?.fields ?? {});
    if (parsed.kind !== 'fill') throw new Error(`expected a fill, got ${parsed.kind}`);
    expect(parsed.fill).toMatchObject({
      orderId: '8205830455',
      orderSide: 'SELL',
      planId: 'exit_proof_filled_eth_001',
    });
    expect(formatAmount(parsed.fill.qty)).toBe('0.01');
  });

  it('reduce-only only when the record says so (a step\'s JSON true, "True"); an entry fill is applied exactly', () => {
    const byPlan = (id: string) => {
      const parsed = parseApplyResult(
        '1-0',
        records.find((r) => r.fields.plan_id === id)?.fields ?? {},
      );
      if (parsed.kind !== 'fill') throw new Error(`expected a fill, got ${parsed.kind}`);
      return parsed.fill;
    };
    expect(byPlan('1fa15049a04dee28').reduceOnly).toBe(true); // steps_results reduce_only: true
    expect(byPlan('a6abaad0acb88252').reduceOnly).toBe(true); // reduceOnly "True"
    const entry = byPlan('81b61464df300301'); // intent_executor entry BUY 0.002, no flag anywhere
    expect(entry.reduceOnly).toBe(false);
    for (const start of ['0', '0.001', '-0.004']) {
      const hash = encodeLedger({
        amount: new Decimal(start),
        source: 'p34_init',
        nowMs: 1,
        previousVersion: 0,
      });
      const write = fillWrite(decodeLedger(hash, epsilonFor(new Decimal('0.001'))), entry, 2);
      expect(write.amount?.minus(new Decimal(start)).toFixed()).toBe('0.002');
    }
  });

  it('a Python dict repr in details is not JSON: not executed stays not executed, executed is malformed, never a throw', () => {
    const repr = "{'side': 'SELL', 'qty': 0.5, 'filled_qty': 0.5, 'executed': True}";
    expect(
      parseApplyResult('1-0', { symbol: 'BTCUSDT', executed: 'False', details: repr }).kind,
    ).toBe('not_executed');
    const executed = parseApplyResult('1-0', {
      symbol: 'BTCUSDT',
      executed: 'True',
      details: repr,
    });
    expect(executed.kind).toBe('malformed');
    if (executed.kind === 'malformed') expect(executed.problem).toMatch(/details/);
  });

  it('reads executed from a JSON true inside details when the top level does not say', () => {
    const details = JSON.stringify({ executed: true, side: 'BUY', filled_qty: 0.004, order_id: 7 });
    const parsed = parseApplyResult('1-0', { symbol: 'BTCUSDT', details });
    expect(parsed.kind).toBe('fill');
  });

  it("close_qty and the steps' ordered quantity are never applied as fills", () => {
    const ack = parseApplyResult('1-0', {
      symbol: 'BTCUSDT',
      executed: 'True',
      close_qty: '0.002',
      filled_qty: '0.0',
      status: 'NEW',
      side: 'SELL',
    });
    expect(ack.kind).toBe('unconfirmed_order');
  });
});

describe('float-noise snapping to the lot step (SPEC §4)', () => {
  const step = new Decimal('0.001');
  it('snaps a quantity within 1e-9 relative of a multiple of the step', () => {
    expect(snapToLotStep(new Decimal('0.009999999999999998'), step)).toEqual({
      qty: new Decimal('0.01'),
      offStep: false,
    });
    expect(formatAmount(snapToLotStep(new Decimal('0.15000000000000002'), step).qty)).toBe('0.15');
  });
  it('keeps any other off-step quantity exactly and flags it', () => {
    const kept = snapToLotStep(new Decimal('0.028499999999999998'), step);
    expect([formatAmount(kept.qty), kept.offStep]).toEqual(['0.028499999999999998', true]);
    const tiny = snapToLotStep(new Decimal('1.5e-05'), step);
    expect([formatAmount(tiny.qty), tiny.offStep]).toEqual(['0.000015', true]);
  });
  it('leaves on-step quantities, and every quantity when the step is unknown', () => {
    expect(snapToLotStep(new Decimal('0.028'), step)).toEqual({
      qty: new Decimal('0.028'),
      offStep: false,
    });
    expect(snapToLotStep(new Decimal('0.0285'), null)).toEqual({
      qty: new Decimal('0.0285'),
      offStep: false,
    });
    expect(snapToLotStep(ZERO, step).offStep).toBe(false);
  });
});
