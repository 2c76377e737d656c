import { describe, expect, it } from 'vitest';
import {
  type DenyReason,
  type PermitDecision,
  evaluatePlan,
} from '../../src/domain/permit-rules.js';
import { decodeLedger } from '../../src/domain/ledger.js';
import { Decimal, formatAmount } from '../../src/domain/amount.js';
import { NOW_MS, RULES, healthy, ledger, lot, plan, snapshot } from '../brain/fixtures.js';

function denied(decision: PermitDecision): {
  reason: DenyReason;
  all: DenyReason[];
  details: Record<string, unknown>[];
} {
  if (decision.allow) throw new Error('expected a deny, got ALLOW');
  return {
    reason: decision.reason,
    all: decision.failed.map((f) => f.reason),
    details: decision.failed.map((f) => f.details),
  };
}

describe('permit rules — the seed tests', () => {
  it('test 1: normal execution → ALLOW with safe_close_qty (rule 6: 0.038 × 0.75 → 0.028, step 0.001)', () => {
    const decision = evaluatePlan(healthy());
    expect(decision.allow).toBe(true);
    if (!decision.allow) return;
    expect(formatAmount(decision.safeCloseQty)).toBe('0.028');
    expect(formatAmount(decision.requestedQty)).toBe('0.0285');
    expect(formatAmount(decision.exchangeAmt)).toBe('0.038');
    expect(formatAmount(decision.ledgerAmt)).toBe('0.038');
    expect(decision.snapshotAgeSec).toBe(2);
    expect(decision.closeFraction?.toFixed()).toBe('0.75');
    expect(decision.stepSize.toFixed()).toBe('0.001');
  });

  it('test 2: stale snapshot (15.7 s > 10 s) → stale_exchange_state with age and threshold', () => {
    const { reason, details } = denied(
      evaluatePlan(healthy({ snapshot: snapshot('0.038', 15.7) })),
    );
    expect(reason).toBe('stale_exchange_state');
    expect(details[0]).toEqual({ snapshot_age_sec: 15.7, threshold_sec: 10 });
  });

  it('test 3: no position on the exchange → no_position', () => {
    const { reason } = denied(
      evaluatePlan(healthy({ snapshot: snapshot('0'), ledger: ledger('0') })),
    );
    expect(reason).toBe('no_position');
    expect(
      denied(evaluatePlan(healthy({ snapshot: snapshot('0.00009'), ledger: ledger('0.00009') })))
        .reason,
    ).toBe('no_position');
  });

  it('test 4: an order 8 s ago with a 15 s cooldown → cooldown_in_flight', () => {
    const { reason, details } = denied(evaluatePlan(healthy({ ledger: ledger('0.038', 8) })));
    expect(reason).toBe('cooldown_in_flight');
    expect(details[0]).toMatchObject({
      since_last_order_sec: 8,
      cooldown_sec: 15,
      cooldown_remaining_sec: 7,
    });
  });

  it('test 5: ledger 0.045 vs exchange 0.050 (10 % > 1 %) → reconcile_required_qty_mismatch', () => {
    const { reason, details } = denied(
      evaluatePlan(healthy({ snapshot: snapshot('0.050'), ledger: ledger('0.045') })),
    );
    expect(reason).toBe('reconcile_required_qty_mismatch');
    expect(String(details[0]?.diff_pct)).toBe('10');
  });
});

describe('permit rules — every deny reason of SPEC §5', () => {
  const cases: [string, Parameters<typeof healthy>[0], DenyReason][] = [
    ['symbol outside the allowlist', { plan: plan({ symbol: 'DOGEUSDT' }) }, 'symbol_not_allowed'],
    ['invalid symbol text', { plan: plan({ symbol: 'btc usdt*' }) }, 'symbol_not_allowed'],
    [
      'unknown action without qty',
      { plan: plan({ action: 'CLOSE_PARTIAL_33' }) },
      'unknown_action',
    ],
    ['missing action without qty', { plan: plan({ action: '' }) }, 'unknown_action'],
    ['negative qty', { plan: plan({ qty: '-0.01' }) }, 'invalid_qty'],
    ['reduceOnly=false', { plan: plan({ reduceOnly: 'false' }) }, 'not_reduce_only'],
    ['plan older than 30 s', { plan: plan({ ts: String(NOW_MS - 31_000) }) }, 'plan_expired'],
    [
      'plan dated 31 s in the future',
      { plan: plan({ ts: String(NOW_MS + 31_000) }) },
      'plan_expired',
    ],
    ['no snapshot', { snapshot: { kind: 'missing' } }, 'no_exchange_snapshot'],
    [
      'unreadable snapshot',
      { snapshot: { kind: 'invalid', problem: 'x' } },
      'no_exchange_snapshot',
    ],
    ['stale snapshot', { snapshot: snapshot('0.038', 10.5) }, 'stale_exchange_state'],
    ['flat exchange', { snapshot: snapshot('0'), ledger: ledger('0') }, 'no_position'],
    [
      'no ledger',
      {
        ledger: {
          kind: 'missing',
          version: 0,
          rawVersion: '',
          order: { lastOrderId: null, lastOrderTimeMs: null, lastPlanId: null, lastResultId: null },
        },
      },
      'no_ledger',
    ],
    [
      'invalid ledger',
      { ledger: decodeLedger({ ledger_amt: 'abc' }, new Decimal('0.0005')) },
      'ledger_invalid',
    ],
    [
      'FLAT side with an amount',
      { ledger: decodeLedger({ ledger_amt: '0.5', ledger_side: 'FLAT' }, new Decimal('0.0005')) },
      'ledger_invalid',
    ],
    [
      'exchange LONG, ledger SHORT',
      { snapshot: snapshot('0.05'), ledger: ledger('-0.05') },
      'reconcile_required_side_mismatch',
    ],
    [
      'qty differs by 1.1 %',
      { snapshot: snapshot('1'), ledger: ledger('0.989') },
      'reconcile_required_qty_mismatch',
    ],
    ['ledger flat, exchange not', { ledger: ledger('0') }, 'reconcile_required_qty_mismatch'],
    ['order 14.9 s ago', { ledger: ledger('0.038', 14.9) }, 'cooldown_in_flight'],
    ['hold key present', { holdPresent: true }, 'reconcile_hold_active'],
    ['reconcile heartbeat missing', { reconcileHeartbeatPresent: false }, 'reconcile_engine_down'],
    [
      'safe qty below min',
      { snapshot: snapshot('0.001'), ledger: ledger('0.001') },
      'qty_below_min',
    ],
    ['no lot size', { lotSize: null }, 'unknown_lot_size'],
    ['unusable lot size (step 0)', { lotSize: lot('0', '0.001') }, 'unknown_lot_size'],
  ];
  it.each(cases)('%s → %s', (_name, overrides, reason) => {
    expect(denied(evaluatePlan(healthy(overrides))).reason).toBe(reason);
  });

  it('passes at exactly the thresholds (age 10 s, diff 1 %, cooldown 15 s)', () => {
    expect(evaluatePlan(healthy({ snapshot: snapshot('0.038', 10) })).allow).toBe(true);
    expect(evaluatePlan(healthy({ snapshot: snapshot('1'), ledger: ledger('0.99') })).allow).toBe(
      true,
    );
    expect(evaluatePlan(healthy({ ledger: ledger('0.038', 15) })).allow).toBe(true);
    expect(evaluatePlan(healthy({ ledger: ledger('0.038', null) })).allow).toBe(true);
  });

  it('does not require the reconcile heartbeat when P33_REQUIRE_RECONCILE=false', () => {
    const decision = evaluatePlan(
      healthy({ reconcileHeartbeatPresent: false, config: { ...RULES, requireReconcile: false } }),
    );
    expect(decision.allow).toBe(true);
  });

  it('cooldown reads the last ORDER time only, never the ledger update time (LESSONS #8)', () => {
    // ledger() writes ts_ms = now (rewritten "every cycle"); the last order was 60 s ago.
    const read = ledger('0.038', 60);
    expect(read.kind === 'ok' && read.ledger.updatedMs).toBe(NOW_MS);
    expect(evaluatePlan(healthy({ ledger: read })).allow).toBe(true);
  });

  it('a ledger without an amount still carries the cooldown of its last order', () => {
    const read = decodeLedger({ last_order_time_ms: String(NOW_MS - 3000) }, new Decimal('0.0005'));
    const { all } = denied(evaluatePlan(healthy({ ledger: read })));
    expect(all).toEqual(['no_ledger', 'cooldown_in_flight']);
  });
});

describe('permit rules — order and completeness', () => {
  it('reason is the first failing check; details.failed lists every failing check in order', () => {
    const decision = evaluatePlan(
      healthy({
        plan: plan({ action: 'NOPE', ts: String(NOW_MS - 60_000) }),
        snapshot: snapshot('0.05', 20),
        ledger: ledger('-0.03', 1),
        holdPresent: true,
        reconcileHeartbeatPresent: false,
        lotSize: null,
      }),
    );
    const { reason, all } = denied(decision);
    expect(reason).toBe('unknown_action');
    expect(all).toEqual([
      'unknown_action',
      'plan_expired',
      'stale_exchange_state',
      'reconcile_required_side_mismatch',
      'reconcile_required_qty_mismatch',
      'cooldown_in_flight',
      'reconcile_hold_active',
      'reconcile_engine_down',
      'unknown_lot_size',
    ]);
  });

  it('a stale snapshot is still read for the other checks', () => {
    const { all } = denied(
      evaluatePlan(healthy({ snapshot: snapshot('0', 30), ledger: ledger('0') })),
    );
    expect(all).toEqual(['stale_exchange_state', 'no_position', 'qty_below_min']);
  });
});

describe('permit rules — sizing', () => {
  it('keeps the sign of a SHORT position and closes a positive size', () => {
    const decision = evaluatePlan(
      healthy({ snapshot: snapshot('-0.038'), ledger: ledger('-0.038') }),
    );
    expect(decision.allow).toBe(true);
    if (!decision.allow) return;
    expect(formatAmount(decision.exchangeAmt)).toBe('-0.038');
    expect(formatAmount(decision.ledgerAmt)).toBe('-0.038');
    expect(formatAmount(decision.safeCloseQty)).toBe('0.028');
  });

  it('a positive explicit qty wins over the fraction and is clamped to the position', () => {
    const small = evaluatePlan(healthy({ plan: plan({ qty: '0.0125' }) }));
    expect(small.allow && formatAmount(small.safeCloseQty)).toBe('0.012');
    expect(small.allow && small.closeFraction).toBeNull();
    const big = evaluatePlan(healthy({ plan: plan({ qty: '5' }) }));
    expect(big.allow && formatAmount(big.safeCloseQty)).toBe('0.038');
    const noAction = evaluatePlan(
      healthy({ plan: plan({ action: 'SOMETHING_NEW', qty: '0.01' }) }),
    );
    expect(noAction.allow && formatAmount(noAction.safeCloseQty)).toBe('0.01');
  });

  it('a full close never exceeds |position| and is capped at max_qty, floored to the step', () => {
    const full = evaluatePlan(healthy({ plan: plan({ action: 'FULL_CLOSE' }) }));
    expect(full.allow && formatAmount(full.safeCloseQty)).toBe('0.038');
    const capped = evaluatePlan(
      healthy({
        plan: plan({ action: 'FULL_CLOSE' }),
        snapshot: snapshot('250.5'),
        ledger: ledger('250.5'),
        lotSize: lot('0.1', '0.1', '100.05'),
      }),
    );
    expect(capped.allow && formatAmount(capped.safeCloseQty)).toBe('100');
  });
});
