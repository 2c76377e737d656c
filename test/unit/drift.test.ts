import { describe, expect, it } from 'vitest';
import { Decimal, epsilonFor } from '../../src/domain/amount.js';
import { decide } from '../../src/domain/drift.js';
import { decodeLedger } from '../../src/domain/ledger.js';
import {
  BTC_LOT,
  T0,
  driftInput,
  fill,
  flatResult,
  ledgerFields,
  ledgerRead,
  snapshotRead,
  stepsResult,
} from '../reconcile/fixtures.js';

const EPS = epsilonFor(BTC_LOT.stepSize);
const SNAP_MS = T0 - 2000;
const OLD_LEDGER_MS = T0 - 60_000;

describe('decide — SPEC §7 rows in order', () => {
  it('row 1: no snapshot → HOLD missing_exchange', () => {
    const d = decide(
      driftInput({ snapshot: { kind: 'missing' }, ledger: ledgerRead('0.062', OLD_LEDGER_MS) }),
    );
    expect([d.status, d.reason, d.action, d.holdPolicy]).toEqual([
      'HOLD',
      'missing_exchange',
      'hold',
      'set',
    ]);
    expect(d.ledgerAmt?.toFixed()).toBe('0.062');
    expect(d.exchangeAmt).toBeNull();
  });

  it('row 1: an unreadable snapshot holds too (fail closed), with the problem in the detail', () => {
    const d = decide(
      driftInput({
        snapshot: { kind: 'invalid', problem: 'position_amt "x"' },
        ledger: ledgerRead('0.062', OLD_LEDGER_MS),
      }),
    );
    expect([d.status, d.reason]).toEqual(['HOLD', 'missing_exchange']);
    expect(d.detail).toContain('position_amt');
  });

  it('row 2: a snapshot older than the freshness limit → HOLD stale_exchange', () => {
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.062', T0 - 10_001),
        ledger: ledgerRead('0.062', OLD_LEDGER_MS),
      }),
    );
    expect([d.status, d.reason]).toEqual(['HOLD', 'stale_exchange']);
    expect(d.snapshotAgeSec).toBeCloseTo(10.001);
  });

  it('row 2: exactly at the limit is still fresh', () => {
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.062', T0 - 10_000),
        ledger: ledgerRead('0.062', OLD_LEDGER_MS),
      }),
    );
    expect(d.status).toBe('OK');
  });

  it('row 2: a snapshot stamped more than 1 s in the future is stale (clock skew never repairs)', () => {
    const evidence = [fill(`${T0 - 5000}-0`, flatResult('BTCUSDT', 'BUY', '0.001', T0 - 5000))];
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.101', T0 + 1500),
        ledger: ledgerRead('0.1', OLD_LEDGER_MS),
        evidence,
      }),
    );
    expect([d.status, d.reason]).toEqual(['HOLD', 'stale_exchange']);
    expect(d.detail).toContain('future');
  });

  it('row 3: an invalid ledger → MANUAL_REQUIRED ledger_invalid (never read as zero)', () => {
    const ledger = decodeLedger({ ledger_amt: '0.05', ledger_side: 'FLAT', version: '3' }, EPS);
    const d = decide(driftInput({ snapshot: snapshotRead('0.05', SNAP_MS), ledger }));
    expect([d.status, d.reason, d.holdPolicy]).toEqual([
      'MANUAL_REQUIRED',
      'ledger_invalid',
      'set',
    ]);
  });

  it('row 4: no ledger → LEDGER_INIT from the snapshot, status OK', () => {
    const ledger = decodeLedger({}, EPS);
    const d = decide(driftInput({ snapshot: snapshotRead('-0.062', SNAP_MS), ledger }));
    expect([d.status, d.reason, d.action, d.holdPolicy]).toEqual([
      'OK',
      'ledger_init',
      'ledger_init',
      'clear',
    ]);
    expect(d.exchangeAmt?.toFixed()).toBe('-0.062');
    expect(d.ledgerVersion).toBe(0);
  });

  it('row 4: a ledger holding only order fields newer than the snapshot waits for the snapshot', () => {
    const ledger = decodeLedger({ last_order_id: '9', last_order_time_ms: String(T0 - 500) }, EPS);
    const d = decide(driftInput({ snapshot: snapshotRead('0.062', SNAP_MS), ledger }));
    expect([d.status, d.reason, d.action]).toEqual(['DRIFT', 'awaiting_snapshot', 'none']);
  });

  it('row 5: amounts equal within ε (half a lot step) → OK', () => {
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.0624', SNAP_MS),
        ledger: ledgerRead('0.062', OLD_LEDGER_MS),
      }),
    );
    expect([d.status, d.reason, d.action, d.holdPolicy]).toEqual(['OK', '', 'none', 'clear']);
  });

  it('row 6: both non-flat and sides differ → MANUAL_REQUIRED side_mismatch, even with matching evidence', () => {
    const evidence = [fill(`${T0 - 5000}-0`, flatResult('BTCUSDT', 'BUY', '0.124', T0 - 5000))];
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.062', SNAP_MS),
        ledger: ledgerRead('-0.062', OLD_LEDGER_MS),
        evidence,
      }),
    );
    expect([d.status, d.reason, d.action]).toEqual(['MANUAL_REQUIRED', 'side_mismatch', 'hold']);
  });

  it('row 6 does not apply when one side is flat: that is a quantity mismatch', () => {
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0', SNAP_MS),
        ledger: ledgerRead('0.062', OLD_LEDGER_MS),
      }),
    );
    expect([d.status, d.reason]).toEqual(['HOLD', 'qty_mismatch_no_evidence']);
  });

  it('row 7: a ledger written after the snapshot → DRIFT awaiting_snapshot (no hold is started)', () => {
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.062', SNAP_MS),
        ledger: ledgerRead('0.031', SNAP_MS + 300),
      }),
    );
    expect([d.status, d.reason, d.action, d.holdPolicy]).toEqual([
      'DRIFT',
      'awaiting_snapshot',
      'none',
      'keep',
    ]);
  });

  it('row 7: a fill newer than the snapshot never triggers a repair', () => {
    // The brain applied a SELL 0.001 at T0-1000; the snapshot (T0-2000) does not show it yet.
    const evidence = [fill(`${T0 - 1000}-0`, flatResult('BTCUSDT', 'SELL', '0.001', T0 - 1000))];
    const waiting = decide(
      driftInput({
        snapshot: snapshotRead('0.1', SNAP_MS),
        ledger: ledgerRead('0.099', T0 - 1000),
        evidence,
      }),
    );
    expect([waiting.status, waiting.reason]).toEqual(['DRIFT', 'awaiting_snapshot']);
    // Once the wait is over and the snapshot still predates the fill, the fill is no evidence.
    const later = T0 + 10_000;
    const after = decide(
      driftInput({
        snapshot: snapshotRead('0.1', later - 1000),
        ledger: ledgerRead('0.099', T0 - 1000),
        evidence,
        nowMs: later,
      }),
    );
    expect(after.action).not.toBe('auto_repair');
  });

  it('row 7: the wait ends after the freshness limit, then rows 8–9 decide', () => {
    const now = T0 + 11_000;
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.062', now - 1000),
        ledger: ledgerRead('0.031', T0),
        nowMs: now,
      }),
    );
    expect([d.status, d.reason]).toEqual(['HOLD', 'qty_mismatch_no_evidence']);
  });

  it('row 7: a ledger stamped in the future buys no wait', () => {
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.062', SNAP_MS),
        ledger: ledgerRead('0.031', T0 + 60_000),
      }),
    );
    expect([d.status, d.reason]).toEqual(['HOLD', 'qty_mismatch_no_evidence']);
  });

  it('row 8: an unused fill before the snapshot equal to ex − ledger, within tolerance → REPAIRED auto_fixed', () => {
    const evidence = [
      fill(`${T0 - 5000}-0`, flatResult('BTCUSDT', 'SELL', '0.001', T0 - 5000, 'plan-77')),
    ];
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.1', SNAP_MS),
        ledger: ledgerRead('0.101', OLD_LEDGER_MS),
        evidence,
      }),
    );
    expect([d.status, d.reason, d.action, d.holdPolicy]).toEqual([
      'REPAIRED',
      'auto_fixed',
      'auto_repair',
      'clear',
    ]);
    expect(d.evidence?.entryIds).toEqual([`${T0 - 5000}-0`]);
    expect(d.evidence?.planId).toBe('plan-77');
    expect(d.evidence?.orderId).toBe('ord-plan-77');
    expect(d.diffAmt?.toFixed()).toBe('-0.001');
  });

  it('row 8: the steps_results shape (executed="True") counts as evidence too', () => {
    const evidence = [
      fill(
        `${T0 - 5000}-0`,
        stepsResult('BTCUSDT', 'BUY', '0.001', Math.floor((T0 - 5000) / 1000)),
      ),
    ];
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.101', SNAP_MS),
        ledger: ledgerRead('0.1', OLD_LEDGER_MS),
        evidence,
      }),
    );
    expect([d.status, d.reason]).toEqual(['REPAIRED', 'auto_fixed']);
    expect(d.evidence?.orderId).toBe('777001');
  });

  it('row 8: the signed sum of fills newer than last_result_id counts as evidence', () => {
    const last = `${T0 - 60_000}-0`;
    const evidence = [
      fill(`${T0 - 60_000}-0`, flatResult('BTCUSDT', 'SELL', '0.5', T0 - 60_000, 'old')),
      fill(`${T0 - 9000}-0`, flatResult('BTCUSDT', 'SELL', '0.001', T0 - 9000, 'a')),
      fill(`${T0 - 8000}-0`, flatResult('BTCUSDT', 'BUY', '0.003', T0 - 8000, 'b')),
    ];
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.202', SNAP_MS),
        ledger: ledgerRead('0.2', OLD_LEDGER_MS, { lastResultId: last }),
        evidence,
      }),
    );
    expect([d.status, d.reason]).toEqual(['REPAIRED', 'auto_fixed']);
    expect(d.evidence?.kind).toBe('pending_sum');
    expect(d.evidence?.entryIds).toEqual([`${T0 - 9000}-0`, `${T0 - 8000}-0`]);
  });

  it('row 8: a used fill is no evidence', () => {
    const id = `${T0 - 5000}-0`;
    const evidence = [fill(id, flatResult('BTCUSDT', 'SELL', '0.001', T0 - 5000))];
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.1', SNAP_MS),
        ledger: ledgerRead('0.101', OLD_LEDGER_MS),
        evidence,
        usedEvidence: new Set([id]),
      }),
    );
    expect([d.status, d.reason]).toEqual(['HOLD', 'qty_mismatch_no_evidence']);
  });

  it('row 8: a fill outside the window or in the wrong direction is no evidence', () => {
    const old = fill(`${T0 - 301_000}-0`, flatResult('BTCUSDT', 'SELL', '0.001', T0 - 301_000));
    const wrongWay = fill(`${T0 - 5000}-0`, flatResult('BTCUSDT', 'BUY', '0.001', T0 - 5000));
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.1', SNAP_MS),
        ledger: ledgerRead('0.101', OLD_LEDGER_MS),
        evidence: [old, wrongWay],
      }),
    );
    expect([d.status, d.reason]).toEqual(['HOLD', 'qty_mismatch_no_evidence']);
  });

  it('row 9: evidence but the drift is above the tolerance → MANUAL_REQUIRED qty_mismatch_exceeds_tolerance', () => {
    const evidence = [fill(`${T0 - 5000}-0`, flatResult('BTCUSDT', 'SELL', '0.01', T0 - 5000))];
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.09', SNAP_MS),
        ledger: ledgerRead('0.1', OLD_LEDGER_MS),
        evidence,
      }),
    );
    expect([d.status, d.reason, d.action]).toEqual([
      'MANUAL_REQUIRED',
      'qty_mismatch_exceeds_tolerance',
      'hold',
    ]);
    expect(d.diffPct?.toFixed()).toBe('10');
  });

  it('row 9: no evidence → HOLD qty_mismatch_no_evidence', () => {
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.1', SNAP_MS),
        ledger: ledgerRead('0.101', OLD_LEDGER_MS),
      }),
    );
    expect([d.status, d.reason, d.action]).toEqual(['HOLD', 'qty_mismatch_no_evidence', 'hold']);
    expect(d.diffAmt?.toFixed()).toBe('-0.001');
    expect(d.diffPct?.toDecimalPlaces(4).toFixed()).toBe('0.9901');
  });

  it('without a lot size ε is 1e-9, so a 0.0004 difference is a drift', () => {
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.0624', SNAP_MS),
        ledger: ledgerRead('0.062', OLD_LEDGER_MS),
        lotSize: null,
      }),
    );
    expect(d.status).toBe('HOLD');
  });
});

describe('decide — legacy ledgers (LESSONS #1, #10)', () => {
  it('reads a ledger written only with last_known_amt/last_known_side: no false mismatch', () => {
    const ledger = decodeLedger(
      {
        last_known_amt: '0.062',
        last_known_side: 'LONG',
        last_update_ts: String((T0 - 60_000) / 1000),
      },
      EPS,
    );
    const d = decide(driftInput({ snapshot: snapshotRead('0.062', SNAP_MS), ledger }));
    expect([d.status, d.reason]).toEqual(['OK', '']);
  });

  it('reads a legacy SHORT stored as a positive amount with last_known_side=SHORT', () => {
    const ledger = decodeLedger({ last_known_amt: '0.062', last_known_side: 'SHORT' }, EPS);
    const d = decide(driftInput({ snapshot: snapshotRead('-0.062', SNAP_MS), ledger }));
    expect([d.status, d.reason]).toEqual(['OK', '']);
    expect(d.ledgerAmt?.toFixed()).toBe('-0.062');
  });

  it('an operator HSET of ledger_side LONG over a negative ledger_amt resolves a side mismatch', () => {
    const fields = { ...ledgerFields('-0.062', OLD_LEDGER_MS), ledger_side: 'LONG' };
    const d = decide(
      driftInput({ snapshot: snapshotRead('0.062', SNAP_MS), ledger: decodeLedger(fields, EPS) }),
    );
    expect(d.status).toBe('OK');
  });

  it('keeps decimals exact (no float noise in diffs)', () => {
    const d = decide(
      driftInput({
        snapshot: snapshotRead('0.3', SNAP_MS),
        ledger: ledgerRead('0.1', OLD_LEDGER_MS),
        lotSize: null,
      }),
    );
    expect(d.diffAmt?.equals(new Decimal('0.2'))).toBe(true);
  });
});
