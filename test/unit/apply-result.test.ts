import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatAmount } from '../../src/domain/amount.js';
import { parseApplyResult } from '../../src/domain/apply-result.js';

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
      ).toBe('no_fill');
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

  it('treats a zero fill as no fill and flags malformed entries as bad, never guessing', () => {
    expect(
      parseApplyResult('1-0', {
        symbol: 'BTCUSDT',
        executed: 'true',
        filled_qty: '0',
        side: 'SELL',
      }).kind,
    ).toBe('no_fill');
    const bad: Record<string, string>[] = [
      { symbol: 'BTCUSDT', executed: 'maybe', filled_qty: '1', side: 'SELL' },
      { symbol: 'BTCUSDT', executed: 'true', filled_qty: 'lots', side: 'SELL' },
      { symbol: 'BTCUSDT', executed: 'true', filled_qty: '1' },
      { symbol: 'BTCUSDT', executed: 'true', steps_results: '{not json', side: 'SELL' },
      { symbol: 'BTC:USDT*', executed: 'true', filled_qty: '1', side: 'SELL' },
      { executed: 'true', filled_qty: '1', side: 'SELL' },
      { symbol: 'BTCUSDT', executed: 'true', filled_qty: '-1', side: 'SELL' },
    ];
    for (const fields of bad) expect(parseApplyResult('1-0', fields).kind).toBe('bad');
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
    );
    fc.assert(
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
            ),
          ),
        ),
        (fields) => {
          const parsed = parseApplyResult('1-0', fields);
          expect(['fill', 'no_fill', 'bad']).toContain(parsed.kind);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
