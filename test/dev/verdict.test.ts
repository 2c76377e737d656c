/**
 * The demo's verdict cannot be vacuous: an order log with an oversize, wrong-way or
 * rejected reduce-only order fails it; a fault whose signal never came fails it; a run
 * that injected nothing fails it; signals seen before the injection or on another
 * symbol do not count.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Decimal } from '../../src/domain/amount.js';
import { type AuditedOrder, auditOrders, toAudited } from '../../src/dev/pipeline/order-audit.js';
import {
  type ObservedEvent,
  type ObservedPermit,
  firstSighting,
} from '../../src/dev/demo/signals.js';
import {
  type FaultReport,
  type SummaryInput,
  evaluateSummary,
} from '../../src/dev/demo/summary.js';
import { assertProperty } from '../helpers/property.js';

const d = (v: string): InstanceType<typeof Decimal> => new Decimal(v);

function order(
  partial: Partial<AuditedOrder> & Pick<AuditedOrder, 'qty' | 'positionBefore' | 'side'>,
): AuditedOrder {
  return {
    planId: 'p1',
    symbol: 'BTCUSDT',
    reduceOnly: true,
    outcome: { kind: 'filled', executedQty: partial.qty },
    timeMs: 1,
    ...partial,
  };
}

function caughtFault(step = 'external-trade'): FaultReport {
  return {
    step,
    title: step,
    symbol: 'ETHUSDT',
    injectedAtMs: 1000,
    signals: [{ signal: 'event HOLD_SET/qty_mismatch_no_evidence', seenAtMs: 1900 }],
    recoveredAtMs: 5000,
    recovery: 'adopt',
    notes: [],
  };
}

function input(overrides: Partial<SummaryInput> = {}): SummaryInput {
  return {
    faults: [caughtFault()],
    skipped: [],
    permits: { allowed: 3, denied: 2, byReason: { cooldown_in_flight: 2 } },
    autoRepairs: 0,
    orders: auditOrders([order({ qty: d('0.012'), positionBefore: d('0.05'), side: 'SELL' })]),
    latency: { count: 5, p50Ms: 1, p99Ms: 2, maxMs: 2, probeMissed: 0 },
    plansPublished: 5,
    unansweredPlans: 0,
    durationSec: 10,
    environment: {},
    ...overrides,
  };
}

describe('order audit', () => {
  it('accepts closes up to the whole position, on either side', () => {
    const audit = auditOrders([
      order({ qty: d('0.05'), positionBefore: d('0.05'), side: 'SELL' }),
      order({ qty: d('0.3'), positionBefore: d('-1.2'), side: 'BUY' }),
      order({ qty: d('5'), positionBefore: d('0'), side: 'BUY', reduceOnly: false }),
    ]);
    expect(audit.violations).toEqual([]);
    expect(audit.reduceOnlyOrders).toBe(2);
    expect(audit.openingOrders).toBe(1);
    expect(audit.maxCloseRatio).toBe(1);
  });

  it('flags an order larger than the position before it', () => {
    const audit = auditOrders([
      order({ qty: d('0.051'), positionBefore: d('0.05'), side: 'SELL' }),
    ]);
    expect(audit.violations.map((v) => v.kind)).toEqual(['oversize']);
  });

  it('flags a reduce-only order that would grow or open a position', () => {
    const audit = auditOrders([
      order({ qty: d('0.01'), positionBefore: d('-0.05'), side: 'SELL' }),
      order({ qty: d('0.01'), positionBefore: d('0'), side: 'BUY' }),
    ]);
    expect(audit.violations.map((v) => v.kind)).toEqual(['wrong_way', 'oversize', 'wrong_way']);
  });

  it('counts a venue reduce-only rejection as a violation', () => {
    const audit = auditOrders([
      order({
        qty: d('0.01'),
        positionBefore: d('0.05'),
        side: 'SELL',
        outcome: { kind: 'rejected', reason: '-2022 ReduceOnly Order is rejected.' },
      }),
    ]);
    expect(audit.violations.map((v) => v.kind)).toEqual(['reduce_only_rejected']);
    expect(audit.rejectedOrders).toBe(1);
  });

  it('reads the venue order log entries (position before, status)', () => {
    const audited = toAudited({
      orderId: 1,
      clientOrderId: 'sim-1',
      source: 'api',
      symbol: 'BTCUSDT',
      side: 'SELL',
      quantity: '0.06',
      reduceOnly: true,
      status: 'FILLED',
      rejectCode: null,
      rejectReason: null,
      price: '60000',
      positionBefore: '0.05',
      positionAfter: '-0.01',
      timeMs: 1,
    });
    expect(auditOrders([audited]).violations.map((v) => v.kind)).toEqual(['oversize']);
  });

  it('never flags a close that is a floor-to-step fraction of the position (property)', () => {
    assertProperty(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 1, max: 100 }),
        fc.boolean(),
        (units, pct, short) => {
          const position = d(String(units)).mul('0.001');
          const qty = position.mul(pct).div(100).div('0.001').floor().mul('0.001');
          if (qty.isZero()) return;
          const signed = short ? position.neg() : position;
          const audit = auditOrders([
            order({ qty, positionBefore: signed, side: short ? 'BUY' : 'SELL' }),
          ]);
          expect(audit.violations).toEqual([]);
        },
      ),
    );
  });
});

describe('demo verdict', () => {
  it('passes when every fault was caught and no order was oversize', () => {
    const summary = evaluateSummary(input());
    expect(summary.failures).toEqual([]);
    expect(summary.ok).toBe(true);
    expect(summary.faults[0]?.detectionMs).toBe(900);
    expect(summary.faults[0]?.recoveryMs).toBe(4000);
  });

  it('fails on an order sized beyond the exchange position', () => {
    const orders = auditOrders([
      order({ qty: d('0.06'), positionBefore: d('0.05'), side: 'SELL' }),
    ]);
    const summary = evaluateSummary(input({ orders }));
    expect(summary.ok).toBe(false);
    expect(summary.failures.join('\n')).toMatch(/beyond the exchange position \(oversize\)/);
  });

  it('fails when a fault was not caught, naming the missing signal', () => {
    const missed = {
      ...caughtFault('stale-feed'),
      signals: [{ signal: 'permit denied (stale_exchange_state)', seenAtMs: null }],
    };
    const summary = evaluateSummary(input({ faults: [caughtFault(), missed] }));
    expect(summary.ok).toBe(false);
    expect(summary.failures).toEqual([
      'stale-feed: not caught (never saw: permit denied (stale_exchange_state))',
    ]);
    expect(summary.faults[1]?.caught).toBe(false);
  });

  it('fails when nothing was injected, or a fault names no signal', () => {
    expect(evaluateSummary(input({ faults: [] })).ok).toBe(false);
    expect(evaluateSummary(input({ faults: [{ ...caughtFault(), signals: [] }] })).ok).toBe(false);
  });

  it('fails when an EXECUTE plan never got a permit', () => {
    expect(evaluateSummary(input({ unansweredPlans: 1 })).ok).toBe(false);
  });
});

describe('signals', () => {
  const events: ObservedEvent[] = [
    {
      id: '1-0',
      event: 'HOLD_SET',
      symbol: 'ETHUSDT',
      reason: 'qty_mismatch_no_evidence',
      tsMs: 900,
      fields: {},
    },
    {
      id: '2-0',
      event: 'HOLD_SET',
      symbol: 'BTCUSDT',
      reason: 'qty_mismatch_no_evidence',
      tsMs: 1500,
      fields: {},
    },
    {
      id: '3-0',
      event: 'HOLD_SET',
      symbol: 'ETHUSDT',
      reason: 'qty_mismatch_no_evidence',
      tsMs: 2000,
      fields: {},
    },
  ];
  const permits: ObservedPermit[] = [
    {
      planId: 'a',
      symbol: 'ETHUSDT',
      publishedMs: 800,
      allow: false,
      reason: 'reconcile_required_qty_mismatch',
      failed: ['reconcile_required_qty_mismatch'],
      seenMs: 810,
    },
    {
      planId: 'b',
      symbol: 'ETHUSDT',
      publishedMs: 1200,
      allow: false,
      reason: 'cooldown_in_flight',
      failed: ['cooldown_in_flight', 'reconcile_engine_down'],
      seenMs: 1210,
    },
    {
      planId: 'c',
      symbol: 'ETHUSDT',
      publishedMs: 1300,
      allow: true,
      reason: null,
      failed: [],
      seenMs: 1310,
    },
  ];

  it('ignores events before the injection and on other symbols', () => {
    const signal = {
      kind: 'event' as const,
      events: ['HOLD_SET/qty_mismatch_no_evidence'],
      symbol: 'ETHUSDT',
    };
    expect(firstSighting(signal, 1000, events, permits)).toBe(2000);
    expect(
      firstSighting({ ...signal, events: ['HOLD_SET/stale_exchange'] }, 0, events, permits),
    ).toBeNull();
    expect(
      firstSighting({ ...signal, events: ['MANUAL_REQUIRED', 'HOLD_SET'] }, 1000, events, permits),
    ).toBe(2000);
  });

  it('counts a deny by any failed check, only for plans published after the injection', () => {
    expect(
      firstSighting(
        { kind: 'deny', reason: 'reconcile_required_qty_mismatch' },
        1000,
        events,
        permits,
      ),
    ).toBeNull();
    expect(
      firstSighting(
        { kind: 'deny', reason: 'reconcile_engine_down', symbol: 'ETHUSDT' },
        1000,
        events,
        permits,
      ),
    ).toBe(1210);
    expect(
      firstSighting(
        { kind: 'deny', reason: 'reconcile_engine_down', symbol: 'BTCUSDT' },
        1000,
        events,
        permits,
      ),
    ).toBeNull();
  });
});
