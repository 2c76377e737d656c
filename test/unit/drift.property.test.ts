/**
 * Properties of the reconcile decision that must hold for every input (STYLE.md): no repair
 * of a side mismatch, none without evidence, none from a stale, future or missing snapshot,
 * none above the tolerance, and a decision for any hash contents whatsoever.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Amount, Decimal, epsilonFor } from '../../src/domain/amount.js';
import { reconcileDiffPct } from '../../src/domain/drift-pct.js';
import { type Fill, parseApplyResult } from '../../src/domain/apply-result.js';
import { type DriftInput, decide } from '../../src/domain/drift.js';
import { decodeLedger } from '../../src/domain/ledger.js';
import { decodeLotSize } from '../../src/domain/lot-size.js';
import { decodeSnapshot } from '../../src/domain/snapshot.js';
import {
  BTC_LOT,
  DRIFT_CONFIG,
  T0,
  fill,
  flatResult,
  ledgerRead,
  snapshotRead,
} from '../reconcile/fixtures.js';
import { assertProperty } from '../helpers/property.js';
import { seededRandom } from '../helpers/seeded-random.js';

const STATUSES = ['OK', 'DRIFT', 'HOLD', 'REPAIRED', 'MANUAL_REQUIRED'];
const steps = (n: number): string => new Decimal(n).mul(BTC_LOT.stepSize).toFixed();

const fillArb = fc.record({
  lots: fc.integer({ min: 1, max: 5000 }),
  side: fc.constantFrom<'BUY' | 'SELL'>('BUY', 'SELL'),
  offsetMs: fc.integer({ min: -400_000, max: 20_000 }),
  seq: fc.integer({ min: 0, max: 9 }),
});

/** Fills, plus one that exactly matches the drift so repairs are reachable. */
function fillsFor(
  drift: Amount,
  generated: fc.Arbitrary<{ lots: number; side: 'BUY' | 'SELL'; offsetMs: number; seq: number }[]>,
): fc.Arbitrary<Fill[]> {
  return generated.map((list) => {
    const fills: Fill[] = list.map((g, i) =>
      fill(
        `${T0 + g.offsetMs}-${g.seq * 10 + i}`,
        flatResult('BTCUSDT', g.side, steps(g.lots), T0 + g.offsetMs),
      ),
    );
    if (!drift.isZero()) {
      const side = drift.isNegative() ? 'SELL' : 'BUY';
      fills.push(
        fill(
          `${T0 - 3000}-99`,
          flatResult('BTCUSDT', side, drift.abs().toFixed(), T0 - 3000, 'match'),
        ),
      );
    }
    return fills;
  });
}

const scenario = fc
  .record({
    exLots: fc.integer({ min: -100_000, max: 100_000 }),
    ledgerLots: fc.integer({ min: -100_000, max: 100_000 }),
    snapOffsetMs: fc.integer({ min: -30_000, max: 5000 }),
    ledgerOffsetMs: fc.integer({ min: -60_000, max: 5000 }),
    tolerancePct: fc.constantFrom(0.5, 1, 2, 50),
  })
  .chain((s) => {
    const drift = new Decimal(s.exLots - s.ledgerLots).mul(BTC_LOT.stepSize);
    return fc.record({
      s: fc.constant(s),
      fills: fillsFor(drift, fc.array(fillArb, { maxLength: 6 })),
    });
  })
  .map(({ s, fills }): { input: DriftInput; s: typeof s } => ({
    s,
    input: {
      symbol: 'BTCUSDT',
      snapshot: snapshotRead(steps(s.exLots), T0 + s.snapOffsetMs),
      ledger: ledgerRead(steps(s.ledgerLots), T0 + s.ledgerOffsetMs),
      lotSize: BTC_LOT,
      evidence: fills,
      usedEvidence: new Set(),
      nowMs: T0,
      config: { ...DRIFT_CONFIG, qtyDriftTolerancePct: s.tolerancePct },
    },
  }));

describe('decide — properties', () => {
  it('never repairs a side mismatch', () => {
    assertProperty(
      fc.property(scenario, ({ input, s }) => {
        const d = decide(input);
        if (
          s.exLots !== 0 &&
          s.ledgerLots !== 0 &&
          Math.sign(s.exLots) !== Math.sign(s.ledgerLots)
        ) {
          expect(d.action).not.toBe('auto_repair');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never repairs without evidence', () => {
    assertProperty(
      fc.property(scenario, ({ input }) => {
        expect(decide({ ...input, evidence: [] }).action).not.toBe('auto_repair');
      }),
      { numRuns: 300 },
    );
  });

  it('never repairs when every fill was used before', () => {
    assertProperty(
      fc.property(scenario, ({ input }) => {
        const used = new Set(input.evidence.map((f) => f.entryId));
        expect(decide({ ...input, usedEvidence: used }).action).not.toBe('auto_repair');
      }),
      { numRuns: 300 },
    );
  });

  it('never repairs from a stale, future or missing snapshot', () => {
    assertProperty(
      fc.property(scenario, fc.constantFrom('stale', 'future', 'missing'), ({ input, s }, kind) => {
        const taken =
          kind === 'stale'
            ? T0 - 10_001 - Math.abs(s.snapOffsetMs)
            : T0 + 1001 + Math.abs(s.snapOffsetMs);
        const snapshot =
          kind === 'missing'
            ? ({ kind: 'missing' } as const)
            : snapshotRead(steps(s.exLots), taken);
        const d = decide({ ...input, snapshot });
        expect(d.action).not.toBe('auto_repair');
        expect(d.status).toBe('HOLD');
      }),
      { numRuns: 300 },
    );
  });

  it('never repairs above the tolerance, and every repair rests on valid evidence', () => {
    assertProperty(
      fc.property(scenario, ({ input }) => {
        const d = decide(input);
        if (d.action !== 'auto_repair') return;
        const snapshot = input.snapshot.kind === 'ok' ? input.snapshot.snapshot : null;
        const ledger = input.ledger.kind === 'ok' ? input.ledger.ledger : null;
        expect(snapshot && ledger).toBeTruthy();
        expect(
          reconcileDiffPct(snapshot!.amount, ledger!.amount).lte(input.config.qtyDriftTolerancePct),
        ).toBe(true);
        const byId = new Map(input.evidence.map((f) => [f.entryId, f]));
        let sum = new Decimal(0);
        for (const id of d.evidence?.entryIds ?? []) {
          const f = byId.get(id)!;
          expect(f.timeMs).toBeLessThan(snapshot!.takenMs);
          expect(f.timeMs).toBeGreaterThanOrEqual(
            input.nowMs - input.config.evidenceWindowSec * 1000,
          );
          expect(f.kind).toBe('fill'); // these inputs hold fills only
          if (f.kind === 'fill') sum = sum.plus(f.signedQty);
        }
        expect(
          sum.minus(snapshot!.amount.minus(ledger!.amount)).abs().lte(epsilonFor(BTC_LOT.stepSize)),
        ).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('repairs are reachable (the properties above are not vacuous)', () => {
    const samples = fc.sample(scenario, { numRuns: 2000, seed: seededRandom().seed });
    expect(samples.some(({ input }) => decide(input).action === 'auto_repair')).toBe(true);
  });

  it('is total: any hash contents give a decision, never an exception', () => {
    const value = fc.oneof(
      fc.string(),
      fc.constantFrom(
        '',
        'LONG',
        'SHORT',
        'FLAT',
        'NONE',
        'true',
        'True',
        '1e-05',
        '-0',
        'NaN',
        'Infinity',
        '1e400',
        '0.062',
        '-0.062',
      ),
      fc.integer().map(String),
      fc.double().map(String),
    );
    const hash = (fields: string[]) =>
      fc.dictionary(fc.constantFrom(...fields), value, { maxKeys: fields.length });
    const snapFields = [
      'position_amt',
      'side',
      'ts_ms',
      'ts_epoch',
      'mark_price',
      'entry_price',
      'exchange_update_ms',
    ];
    const ledgerFieldsList = [
      'ledger_amt',
      'ledger_side',
      'last_known_amt',
      'last_known_side',
      'version',
      'ts_ms',
      'ts_epoch',
      'last_update_ts',
      'last_result_id',
      'last_order_time_ms',
    ];
    const resultFields = [
      'executed',
      'symbol',
      'side',
      'filled_qty',
      'steps_results',
      'ts',
      'timestamp',
      'ts_ms',
      'plan_id',
      'order_id',
      'reduceOnly',
    ];
    assertProperty(
      fc.property(
        hash(snapFields),
        hash(ledgerFieldsList),
        hash(['step_size', 'min_qty', 'max_qty']),
        fc.array(hash(resultFields), { maxLength: 4 }),
        fc.integer({ min: 0, max: 2 ** 42 }),
        (snap, ledger, lot, results, nowMs) => {
          const lotSize = decodeLotSize(lot);
          const evidence = results
            .map((r, i) => parseApplyResult(`${T0 - i}-${i}`, { symbol: 'BTCUSDT', ...r }))
            .flatMap((p) => (p.kind === 'fill' ? [p.fill] : []));
          const d = decide({
            symbol: 'BTCUSDT',
            snapshot: decodeSnapshot(snap),
            ledger: decodeLedger(ledger, epsilonFor(lotSize?.stepSize)),
            lotSize,
            evidence,
            usedEvidence: new Set(),
            nowMs,
            config: DRIFT_CONFIG,
          });
          expect(STATUSES).toContain(d.status);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
