/**
 * The HA run's end-of-run checks (src/dev/ha-audit.ts) and the `ha` demo verdict
 * (src/dev/demo/ha-verdict.ts), as pure functions: each broken invariant is named, each
 * unsurvived fault or missing one fails the run, and only a run with every fault survived
 * and a clean audit passes.
 */
import { describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/amount.js';
import type { Fill } from '../../src/domain/apply-result.js';
import {
  type HaAudit,
  type OrderSent,
  auditFailures,
  ordersPerPlan,
  plansWithTwoAllows,
  resultAccounting,
  symbolEnd,
} from '../../src/dev/ha-audit.js';
import {
  HA_FAULTS,
  type HaDemoInput,
  type HaFaultReport,
  judgeHaDemo,
  renderHaSummary,
} from '../../src/dev/demo/ha-verdict.js';
import type { OrderLogEntry } from '../../src/dev/venue/venue.js';

function order(orderId: number, clientOrderId: string, symbol = 'BTCUSDT'): OrderLogEntry {
  return {
    orderId,
    clientOrderId,
    source: 'api',
    symbol,
    side: 'SELL',
    quantity: '0.01',
    reduceOnly: true,
    status: 'FILLED',
    rejectCode: null,
    rejectReason: null,
    price: '60000',
    positionBefore: '0.05',
    positionAfter: '0.04',
    timeMs: 1,
  };
}

function fill(entryId: string, orderId: string, symbol = 'BTCUSDT'): Fill {
  return {
    kind: 'fill',
    entryId,
    symbol,
    planId: null,
    orderId,
    orderSide: 'SELL',
    qty: new Decimal('0.01'),
    signedQty: new Decimal('-0.01'),
    reduceOnly: true,
    timeMs: 1,
  };
}

function cleanAudit(): HaAudit {
  return {
    plansWithTwoAllows: [],
    plansWithTwoOrders: [],
    unattributedOrders: 0,
    resultsLost: [],
    resultsDuplicated: [],
    fillsNotApplied: [],
    fillsAppliedTwice: [],
    symbols: [
      symbolEnd({
        symbol: 'BTCUSDT',
        venue: new Decimal('0.05'),
        ledger: { amount: new Decimal('0.05'), version: 12 },
        versionAtStart: 2,
        epsilon: new Decimal('0.0005'),
        fills: 10,
        fillsApplied: 10,
      }),
    ],
    ordersFilled: 10,
    ordersRejected: 0,
  };
}

function fault(name: HaFaultReport['name'], ok = true): HaFaultReport {
  return {
    name,
    title: name,
    injectedAtMs: 0,
    checks: [{ label: 'a new leader', ok, detail: ok ? 'x @ epoch 2' : 'none within 15 s' }],
    figures: { takeoverMs: 1234 },
  };
}

function input(overrides: Partial<HaDemoInput> = {}): HaDemoInput {
  return {
    boundMs: 15_000,
    environment: {},
    faults: HA_FAULTS.map((name) => fault(name)),
    baseline: [{ label: 'flow', ok: true, detail: 'plan p1' }],
    audit: cleanAudit(),
    load: { seconds: 30, plansPublished: 600, gate: { ok: 60 }, fencedWrites: {} },
    sabotage: [],
    error: null,
    ...overrides,
  };
}

describe('HA audit (pure)', () => {
  it('a plan the gate answered ok twice is named; once is not', () => {
    expect(
      plansWithTwoAllows(
        new Map([
          ['p1', 1],
          ['p2', 2],
        ]),
      ),
    ).toEqual([{ planId: 'p2', allows: 2 }]);
  });

  it('venue orders are tied to plans by client order id; two for one plan are named, unknown ones counted', () => {
    const sent = new Map<string, OrderSent>([
      ['c1', { planId: 'p1', symbol: 'BTCUSDT', clientOrderId: 'c1' }],
      ['c2', { planId: 'p2', symbol: 'BTCUSDT', clientOrderId: 'c2' }],
      ['c3', { planId: 'p2', symbol: 'BTCUSDT', clientOrderId: 'c3' }],
    ]);
    const external = { ...order(9, 'manual-9'), source: 'external' as const };
    const out = ordersPerPlan(
      [order(1, 'c1'), order(2, 'c2'), order(3, 'c3'), order(4, 'zz'), external],
      sent,
    );
    expect(out.plansWithTwoOrders).toEqual([{ planId: 'p2', orders: 2 }]);
    expect(out.unattributed).toBe(1);
  });

  it('each filled order needs one entry, applied once: lost, duplicated, not applied, applied twice', () => {
    const filled = [
      order(1, 'a'),
      order(2, 'b'),
      order(3, 'c'),
      order(4, 'd'),
      order(1, 'e', 'ETHUSDT'),
    ];
    const entries = [
      fill('1-0', '1'),
      fill('2-0', '2'),
      fill('3-0', '3'),
      fill('3-1', '3'),
      // order 4 has no entry; ETHUSDT#1 is another order than BTCUSDT#1 (ids are per symbol)
      fill('5-0', '1', 'ETHUSDT'),
    ];
    const applied = new Set(['1-0', '3-0', '3-1', '5-0']);
    expect(resultAccounting(filled, entries, applied)).toEqual({
      resultsLost: ['BTCUSDT#4'],
      resultsDuplicated: ['BTCUSDT#3'],
      fillsNotApplied: ['BTCUSDT#2'],
      fillsAppliedTwice: ['BTCUSDT#3'],
    });
  });

  it('ledger = venue within ε; a missing ledger is never equal', () => {
    const base = {
      symbol: 'BTCUSDT',
      venue: new Decimal('0.05'),
      versionAtStart: 1,
      epsilon: new Decimal('0.0005'),
      fills: 0,
      fillsApplied: 0,
    };
    expect(
      symbolEnd({ ...base, ledger: { amount: new Decimal('0.0504'), version: 3 } }),
    ).toMatchObject({
      equal: true,
      versionDelta: 2,
    });
    expect(symbolEnd({ ...base, ledger: { amount: new Decimal('0.051'), version: 3 } }).equal).toBe(
      false,
    );
    expect(symbolEnd({ ...base, ledger: null, problem: 'missing' })).toMatchObject({
      equal: false,
      ledger: 'none (missing)',
      versionDelta: null,
    });
  });

  it('a clean audit has no failures; each broken invariant is one line', () => {
    expect(auditFailures(cleanAudit())).toEqual([]);
    const broken: HaAudit = {
      ...cleanAudit(),
      plansWithTwoAllows: [{ planId: 'p9', allows: 2 }],
      plansWithTwoOrders: [{ planId: 'p8', orders: 2 }],
      resultsLost: ['BTCUSDT#7'],
      fillsAppliedTwice: ['BTCUSDT#6'],
      symbols: [
        {
          ...(cleanAudit().symbols[0] as HaAudit['symbols'][number]),
          equal: false,
          ledger: '0.04',
        },
      ],
    };
    const failures = auditFailures(broken);
    expect(failures).toHaveLength(5);
    expect(failures.join('\n')).toMatch(/ALLOW twice: p9 ×2/);
    expect(failures.join('\n')).toMatch(/two orders on the venue: p8 ×2/);
    expect(failures.join('\n')).toMatch(/fills lost .*BTCUSDT#7/);
    expect(failures.join('\n')).toMatch(/fills applied twice: BTCUSDT#6/);
    expect(failures.join('\n')).toMatch(/BTCUSDT: ledger 0.04 ≠ venue position 0.05/);
  });
});

describe('ha demo verdict (pure)', () => {
  it('PASS: every fault survived, the baseline flowed, a clean audit', () => {
    const summary = judgeHaDemo(input());
    expect(summary.failures).toEqual([]);
    expect(summary.ok).toBe(true);
    expect(summary.faults.every((f) => f.survived)).toBe(true);
    expect(renderHaSummary(summary)).toMatch(/RESULT: PASS/);
  });

  it('FAIL: a fault not survived, a fault missing, an empty fault, no audit, an error, no baseline flow', () => {
    const cases: [Partial<HaDemoInput>, RegExp][] = [
      [
        {
          faults: [
            fault('kill-reconcile-leader', false),
            fault('pause-poller-leader'),
            fault('redis-failover'),
          ],
        },
        /kill-reconcile-leader: a new leader — none within 15 s/,
      ],
      [
        { faults: [fault('kill-reconcile-leader'), fault('pause-poller-leader')] },
        /redis-failover: not injected/,
      ],
      [
        {
          faults: [
            fault('kill-reconcile-leader'),
            fault('pause-poller-leader'),
            { ...fault('redis-failover'), checks: [] },
          ],
        },
        /redis-failover: nothing was checked/,
      ],
      [{ audit: null }, /audit did not run/],
      [{ error: 'demo aborted' }, /the scenario stopped: demo aborted/],
      [
        { baseline: [{ label: 'flow', ok: false, detail: 'none' }] },
        /before the faults: flow — none/,
      ],
      [
        { audit: { ...cleanAudit(), plansWithTwoAllows: [{ planId: 'p', allows: 2 }] } },
        /ALLOW twice/,
      ],
    ];
    for (const [overrides, reason] of cases) {
      const summary = judgeHaDemo(input(overrides));
      expect(summary.ok, String(reason)).toBe(false);
      expect(summary.failures.join('\n')).toMatch(reason);
      expect(renderHaSummary(summary)).toMatch(/RESULT: FAIL/);
    }
  });
});
