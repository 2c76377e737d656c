import { describe, expect, it } from 'vitest';
import { Decimal, epsilonFor } from '../../src/domain/amount.js';
import { type UnconfirmedOrder, parseApplyResult } from '../../src/domain/apply-result.js';
import { EvidenceWindow, type EvidenceQuery, findEvidence } from '../../src/domain/evidence.js';
import { BTC_LOT, T0, fill, flatResult, stepsResult } from '../reconcile/fixtures.js';

const EPS = epsilonFor(BTC_LOT.stepSize);

function query(over: Partial<EvidenceQuery>): EvidenceQuery {
  return {
    fills: [],
    usedEvidence: new Set(),
    snapshotTakenMs: T0 - 1000,
    nowMs: T0,
    windowMs: 300_000,
    drift: new Decimal('-0.001'),
    ledgerAmt: new Decimal('1'),
    epsilon: EPS,
    lastResultId: null,
    ...over,
  };
}

describe('findEvidence', () => {
  it('accepts both real result shapes (LESSONS #2)', () => {
    const a = fill(`${T0 - 9000}-0`, flatResult('BTCUSDT', 'SELL', '0.001', T0 - 9000));
    const b = fill(
      `${T0 - 8000}-0`,
      stepsResult('BTCUSDT', 'SELL', '0.001', Math.floor((T0 - 8000) / 1000)),
    );
    expect(findEvidence(query({ fills: [a] }))?.entryIds).toEqual([a.entryId]);
    expect(findEvidence(query({ fills: [b] }))?.entryIds).toEqual([b.entryId]);
  });

  it('prefers the newest matching single fill', () => {
    const a = fill(`${T0 - 9000}-0`, flatResult('BTCUSDT', 'SELL', '0.001', T0 - 9000, 'a'));
    const b = fill(`${T0 - 8000}-0`, flatResult('BTCUSDT', 'SELL', '0.001', T0 - 8000, 'b'));
    expect(findEvidence(query({ fills: [b, a] }))?.planId).toBe('b');
  });

  it('rejects a fill taken at or after the snapshot', () => {
    const atSnapshot = fill(`${T0 - 1000}-0`, flatResult('BTCUSDT', 'SELL', '0.001', T0 - 1000));
    expect(findEvidence(query({ fills: [atSnapshot] }))).toBeNull();
  });

  it('rejects a fill whose quantity differs by more than ε', () => {
    const f = fill(`${T0 - 9000}-0`, flatResult('BTCUSDT', 'SELL', '0.002', T0 - 9000));
    expect(findEvidence(query({ fills: [f] }))).toBeNull();
  });

  it('never matches a zero drift', () => {
    const f = fill(`${T0 - 9000}-0`, flatResult('BTCUSDT', 'SELL', '0.0001', T0 - 9000));
    expect(findEvidence(query({ fills: [f], drift: new Decimal('0') }))).toBeNull();
  });

  describe('sum of fills newer than last_result_id', () => {
    const applied = `${T0 - 20_000}-0`;
    const a = fill(`${T0 - 9000}-0`, flatResult('BTCUSDT', 'SELL', '0.002', T0 - 9000, 'a'));
    const b = fill(`${T0 - 8000}-0`, flatResult('BTCUSDT', 'BUY', '0.001', T0 - 8000, 'b'));
    const afterSnapshot = fill(
      `${T0 - 500}-0`,
      flatResult('BTCUSDT', 'SELL', '0.005', T0 - 500, 'c'),
    );

    it('sums the pending fills up to the snapshot', () => {
      const e = findEvidence(query({ fills: [a, b, afterSnapshot], lastResultId: applied }));
      expect(e?.kind).toBe('pending_sum');
      expect(e?.signedQty.toFixed()).toBe('-0.001');
      expect(e?.planId).toBe('b');
    });

    it('is not used without a last_result_id', () => {
      expect(findEvidence(query({ fills: [a, b], lastResultId: null }))).toBeNull();
    });

    it('is refused when one of the pending fills was used', () => {
      expect(
        findEvidence(
          query({ fills: [a, b], lastResultId: applied, usedEvidence: new Set([a.entryId]) }),
        ),
      ).toBeNull();
    });

    it('is refused when last_result_id is older than the window (pending fills may be missing)', () => {
      expect(findEvidence(query({ fills: [a, b], lastResultId: `${T0 - 400_000}-0` }))).toBeNull();
    });
  });
});

/** A Binance ACK (executed, executedQty 0) or a reconcile close without a side. */
function ackOrder(
  entryMs: number,
  qty: string,
  side: 'BUY' | 'SELL' | null,
  orderId = `${entryMs}`,
): UnconfirmedOrder {
  const step: Record<string, unknown> = {
    step: 'PLACE_ORDER',
    order_id: orderId,
    qty: Number(qty),
  };
  if (side !== null) Object.assign(step, { side, quantity: qty, executed_qty: '0.000' });
  const parsed = parseApplyResult(`${entryMs}-0`, {
    plan_id: `ack-${entryMs}`,
    symbol: 'BTCUSDT',
    executed: 'True',
    steps_results: JSON.stringify([step]),
    timestamp: String(Math.floor(entryMs / 1000)),
  });
  if (parsed.kind !== 'unconfirmed_order') throw new Error(`not an order: ${parsed.kind}`);
  return parsed.order;
}

describe('findEvidence: orders whose fill is not confirmed (SPEC §4)', () => {
  it('an ACKed SELL explains the drift it would cause, signed by its side', () => {
    const order = ackOrder(T0 - 9000, '0.001', 'SELL');
    const e = findEvidence(query({ fills: [order] }));
    expect(e).toMatchObject({ kind: 'unconfirmed_order', entryIds: [order.entryId] });
    expect(e?.signedQty.toFixed()).toBe('-0.001');
    expect(findEvidence(query({ fills: [ackOrder(T0 - 9000, '0.001', 'BUY')] }))).toBeNull();
  });

  it('without a side it moves toward flat from the ledger; a flat ledger gives it no direction', () => {
    const order = ackOrder(T0 - 9000, '0.001', null);
    expect(findEvidence(query({ fills: [order], ledgerAmt: new Decimal('1') }))?.kind).toBe(
      'unconfirmed_order',
    );
    const short = query({
      fills: [order],
      ledgerAmt: new Decimal('-1'),
      drift: new Decimal('0.001'),
    });
    expect(findEvidence(short)?.signedQty.toFixed()).toBe('0.001');
    expect(findEvidence(query({ fills: [order], ledgerAmt: new Decimal('-1') }))).toBeNull();
    const flat = query({
      fills: [order],
      ledgerAmt: new Decimal('0'),
      drift: new Decimal('0.001'),
    });
    expect(findEvidence(flat)).toBeNull();
  });

  it('counts even behind last_result_id (the brain never applies an order), but never twice, never after the snapshot', () => {
    const order = ackOrder(T0 - 9000, '0.001', 'SELL');
    expect(findEvidence(query({ fills: [order], lastResultId: `${T0 - 2000}-0` }))).not.toBeNull();
    expect(
      findEvidence(query({ fills: [order], usedEvidence: new Set([order.entryId]) })),
    ).toBeNull();
    expect(findEvidence(query({ fills: [ackOrder(T0 - 1000, '0.001', 'SELL')] }))).toBeNull();
    expect(findEvidence(query({ fills: [ackOrder(T0 - 400_000, '0.001', 'SELL')] }))).toBeNull();
  });

  it('yields to a matching fill, and is void once its order id shows up as a fill', () => {
    const order = ackOrder(T0 - 9000, '0.001', 'SELL', 'ord-f');
    const f = fill(`${T0 - 8000}-0`, flatResult('BTCUSDT', 'SELL', '0.001', T0 - 8000, 'f'));
    expect(findEvidence(query({ fills: [order, f] }))?.kind).toBe('single_fill');
    const other = fill(`${T0 - 8000}-0`, flatResult('BTCUSDT', 'SELL', '0.005', T0 - 8000, 'f'));
    expect(findEvidence(query({ fills: [order, other] }))).toBeNull();
  });
});

describe('EvidenceWindow', () => {
  it('keeps only watched symbols and prunes by time', () => {
    const window = new EvidenceWindow(new Set(['BTCUSDT']));
    const oldFill = fill(`${T0 - 400_000}-0`, flatResult('BTCUSDT', 'SELL', '0.001', T0 - 400_000));
    const recent = fill(`${T0 - 1000}-0`, flatResult('BTCUSDT', 'SELL', '0.001', T0 - 1000));
    expect(window.add(oldFill)).toBe(true);
    expect(window.add(recent)).toBe(true);
    expect(window.add(fill(`${T0}-0`, flatResult('ETHUSDT', 'SELL', '1', T0)))).toBe(false);
    expect(window.size).toBe(2);
    window.prune(T0 - 300_000);
    expect(window.fillsFor('BTCUSDT').map((f) => f.entryId)).toEqual([recent.entryId]);
    expect(window.size).toBe(1);
    expect(window.fillsFor('ETHUSDT')).toEqual([]);
  });
});
