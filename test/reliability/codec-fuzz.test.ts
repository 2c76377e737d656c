/**
 * Hostile-input fuzzing of the pure codecs and rules (no Redis): every reader is total —
 * any string, any hash, any JSON — and a garbage input never becomes "flat", "zero" or an
 * ALLOW. Thousands of cases per property; the figures go to docs/reliability.md.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  type Amount,
  Decimal,
  ZERO,
  epsilonFor,
  formatAmount,
  parseAmount,
} from '../../src/domain/amount.js';
import { parseApplyResult } from '../../src/domain/apply-result.js';
import { decide } from '../../src/domain/drift.js';
import { decodeLedger } from '../../src/domain/ledger.js';
import { decodeLotSize } from '../../src/domain/lot-size.js';
import { evaluatePlan } from '../../src/domain/permit-rules.js';
import { decodePermit } from '../../src/domain/permit.js';
import { parsePlan } from '../../src/domain/plan.js';
import { decodeSnapshot } from '../../src/domain/snapshot.js';
import { isPlanId, isSymbol } from '../../src/domain/identifiers.js';
import { recordFigure } from '../helpers/reliability-figures.js';
import { assertProperty } from '../helpers/property.js';

const RUNS = 3000;
const NOW = 1_760_000_000_000;

/** Strings that broke numeric parsers somewhere: NaN, infinities, -0, exponents, unicode digits. */
const NASTY = [
  'NaN',
  'nan',
  'Infinity',
  '-Infinity',
  '-0',
  '-0.0',
  '+0',
  '0e0',
  '1e999',
  '1e-999',
  '1e-05',
  '-1E+3',
  '0x10',
  '0b1',
  '1_000',
  '1,000',
  '١٢٣',
  '１２',
  '  0.5  ',
  '.5',
  '5.',
  '',
  ' ',
  '\u0000',
  '\u202e1',
  'true',
  'null',
  'undefined',
  '[]',
  '{}',
  '9'.repeat(70),
  `0.${'0'.repeat(60)}1`,
  '1e18',
  '1.0000000000000001e18',
  'BTCUSDT:*',
  '../etc',
  '🙂',
];

const nastyText = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.double().map(String),
  fc.bigInt().map(String),
  fc.integer().map(String),
);

const LEDGER_FIELDS = [
  'ledger_amt',
  'ledger_side',
  'last_known_amt',
  'last_known_side',
  'last_side',
  'position_amt',
  'side',
  'version',
  'source',
  'ts_epoch',
  'ts_ms',
  'last_order_id',
  'last_order_time_epoch',
  'last_order_time_ms',
  'last_plan_id',
  'last_result_id',
  'last_update_ts',
];
const SNAPSHOT_FIELDS = [
  'position_amt',
  'side',
  'entry_price',
  'mark_price',
  'leverage',
  'unrealized_pnl',
  'ts_epoch',
  'ts_ms',
  'exchange_update_ms',
  'source',
];
const RESULT_FIELDS = [
  'executed',
  'symbol',
  'plan_id',
  'filled_qty',
  'side',
  'order_id',
  'ts',
  'timestamp',
  'ts_ms',
  'reduceOnly',
  'reduce_only',
  'steps_results',
];
const PLAN_FIELDS = [
  'plan_id',
  'symbol',
  'decision',
  'action',
  'reduceOnly',
  'reduce_only',
  'qty',
  'close_qty',
  'timestamp',
  'ts',
];
const SIDES = ['LONG', 'SHORT', 'FLAT', 'NONE', '', 'long', 'BUY', 'SELL', 'BOTH', 'UNKNOWN'];

/** A hash whose fields are drawn from the real names (and junk), values from the nasty pool. */
function hashOf(names: readonly string[]): fc.Arbitrary<Record<string, string>> {
  const value = fc.oneof(nastyText, fc.constantFrom(...SIDES), fc.constantFrom('EXECUTE', 'True'));
  return fc.dictionary(fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 8 })), value, {
    maxKeys: names.length + 2,
  });
}

const stepsJson = fc.oneof(
  nastyText,
  fc
    .array(
      fc.record(
        {
          executed_qty: fc.oneof(nastyText, fc.double(), fc.integer()),
          side: fc.constantFrom('BUY', 'SELL', 'buy', 'HOLD', ''),
          order_id: fc.oneof(nastyText, fc.integer()),
          symbol: fc.constantFrom('BTCUSDT', 'btcusdt', 'BTCUSDT:*', ''),
        },
        { requiredKeys: [] },
      ),
      { maxLength: 4 },
    )
    .map((a) => JSON.stringify(a)),
);

const counts = { cases: 0 };

function run<T>(arb: fc.Arbitrary<T>, check: (value: T) => void): void {
  assertProperty(
    fc.property(arb, (value) => {
      counts.cases += 1;
      check(value);
    }),
    { numRuns: RUNS },
  );
}

/** Inputs the reader accepts whose written form it then rejects (see the `.fails` test). */
const asymmetric: string[] = [];

describe('hostile input: amounts', () => {
  it('parseAmount is total, never yields NaN/Infinity/-0, and writers never emit exponents', () => {
    run(fc.oneof(nastyText, fc.double(), fc.anything()), (raw) => {
      const value = parseAmount(raw);
      if (value === null) return;
      expect(value.isFinite()).toBe(true);
      expect(value.abs().lte(new Decimal('1e18'))).toBe(true);
      if (value.isZero()) expect(value.isNegative()).toBe(false);
      const text = formatAmount(value);
      expect(text).not.toMatch(/[eE]/);
      // Re-reading what was written gives the same value or — fail closed — nothing.
      const again = parseAmount(text);
      if (again === null) asymmetric.push(String(raw));
      else expect(again.eq(value)).toBe(true);
    });
    for (const bad of ['NaN', 'Infinity', '-Infinity', '1e999', '0x10', '١٢٣', '1,000'])
      expect(parseAmount(bad)).toBeNull();
    expect(parseAmount('-0')?.isNegative()).toBe(false);
    expect(formatAmount(parseAmount('1e-05') as Amount)).toBe('0.00001');
  });

  // BUG (reported to the lead): parseAmount accepts tiny exponent forms such as '1e-70' or
  // 5e-324, but formatAmount writes them in full (> 64 characters), which parseAmount then
  // rejects. A ledger written from such a value reads back as `ledger_invalid` (fail
  // closed, never zero) instead of the value written. Remove `.fails` once fixed.
  it('every amount the reader accepts reads back after the writer formats it', () => {
    for (const raw of [
      '1e-70',
      '5e-324',
      `1e-${64}`,
      '1e-30',
      '-1e18',
      '123456789012345678.123456789012345678901234567890',
    ]) {
      const value = parseAmount(raw);
      if (value === null) continue; // refused on read: fine, never a guess
      expect(parseAmount(formatAmount(value))?.eq(value)).toBe(true);
    }
    run(
      fc.tuple(fc.integer({ min: -(10 ** 9), max: 10 ** 9 }), fc.integer({ min: -99, max: 99 })),
      ([mantissa, exponent]) => {
        const value = parseAmount(`${mantissa}e${exponent}`);
        if (value === null) return;
        expect(parseAmount(formatAmount(value))?.eq(value)).toBe(true);
      },
    );
  });
});

describe('hostile input: ledger, snapshot, lot size hashes', () => {
  it('decodeLedger never throws and never reads garbage as a usable amount', () => {
    // The shapes in reading order, each amount with the side fields written with it.
    const shapes = [
      { amount: 'ledger_amt', sides: ['ledger_side'], legacy: false },
      { amount: 'last_known_amt', sides: ['last_side', 'last_known_side'], legacy: true },
      { amount: 'position_amt', sides: ['side'], legacy: true },
    ];
    run(fc.tuple(hashOf(LEDGER_FIELDS), fc.constantFrom('0.001', '1', null)), ([hash, step]) => {
      const eps = epsilonFor(step === null ? null : new Decimal(step));
      const read = decodeLedger(hash, eps);
      if (read.kind !== 'ok') return;
      const shape = shapes.find((s) => hash[s.amount] !== undefined);
      // An ok ledger always came from a parseable amount of the first shape present…
      expect(shape).toBeDefined();
      const parsed = parseAmount(hash[shape?.amount ?? '']);
      expect(parsed).not.toBeNull();
      expect(Number.isSafeInteger(read.ledger.version)).toBe(true);
      const declared = (shape?.sides ?? [])
        .map((f) => hash[f]?.trim().toUpperCase())
        .find((v) => v !== undefined && v !== '' && v !== 'NONE');
      const size = (parsed as Amount).abs();
      if (declared === 'FLAT') {
        // …FLAT only with a size within ε (anything larger is invalid, never zero)…
        expect(size.lte(eps)).toBe(true);
        expect(read.ledger.amount.isZero()).toBe(true);
      } else {
        // …otherwise its size is kept exactly; the side may only choose the sign…
        expect(read.ledger.amount.abs().eq(size)).toBe(true);
        // …and a legacy amount beside a side that is no position side (BUY, SELL, UNKNOWN)
        // is never read LONG: it may be an absolute short.
        const positionSide = declared === 'LONG' || declared === 'SHORT';
        if (shape?.legacy === true && declared !== undefined && !positionSide)
          expect(read.ledger.side).not.toBe('LONG');
      }
    });
  });

  it('decodeSnapshot and decodeLotSize never throw; an ok snapshot has a parseable amount and time', () => {
    run(
      fc.tuple(hashOf(SNAPSHOT_FIELDS), hashOf(['step_size', 'min_qty', 'max_qty'])),
      ([s, l]) => {
        const read = decodeSnapshot(s);
        if (read.kind === 'ok') {
          expect(parseAmount(s.position_amt)).not.toBeNull();
          expect(Number.isFinite(read.snapshot.takenMs)).toBe(true);
        }
        const lot = decodeLotSize(l);
        if (lot !== null) expect(lot.stepSize.gt(0)).toBe(true);
      },
    );
  });
});

describe('hostile input: stream entries', () => {
  it('parseApplyResult is total; a fill always has a valid symbol, qty > 0 and a signed qty matching its side', () => {
    const entry = fc.tuple(
      fc.tuple(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 99 })),
      hashOf(RESULT_FIELDS),
      stepsJson,
      fc.boolean(),
    );
    run(entry, ([[ms, seq], fields, steps, withSteps]) => {
      const record = withSteps ? { ...fields, steps_results: steps } : fields;
      const parsed = parseApplyResult(`${ms}-${seq}`, record);
      if (parsed.kind !== 'fill') return;
      const f = parsed.fill;
      expect(isSymbol(f.symbol)).toBe(true);
      expect(f.qty.gt(0)).toBe(true);
      expect(f.signedQty.abs().eq(f.qty)).toBe(true);
      expect(f.signedQty.isNegative()).toBe(f.orderSide === 'SELL');
      expect(Number.isFinite(f.timeMs)).toBe(true);
      if (f.planId !== null) expect(isPlanId(f.planId)).toBe(true);
    });
  });

  it('parsePlan is total; an EXECUTE plan always carries a key-safe plan id', () => {
    run(fc.tuple(fc.integer({ min: 1, max: 2 ** 40 }), hashOf(PLAN_FIELDS)), ([ms, fields]) => {
      const parsed = parsePlan(`${ms}-0`, fields);
      if (parsed.kind === 'bad') return;
      expect(isPlanId(parsed.kind === 'execute' ? parsed.plan.planId : parsed.planId)).toBe(true);
      if (parsed.kind === 'execute' && parsed.plan.symbolValid)
        expect(isSymbol(parsed.plan.symbol)).toBe(true);
    });
  });

  it('decodePermit is total; only a JSON object with allow:true and a positive safe_close_qty allows', () => {
    const permitJson = fc.oneof(
      nastyText,
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .record({
          plan_id: fc.oneof(fc.string(), fc.integer()),
          symbol: fc.oneof(fc.constant('BTCUSDT'), fc.integer()),
          allow: fc.oneof(fc.boolean(), fc.constantFrom('true', 1, null)),
          safe_close_qty: fc.oneof(fc.double(), fc.constantFrom('0.01', -1, 0, '1e-05', null)),
        })
        .map((v) => JSON.stringify(v)),
    );
    run(fc.oneof(permitJson, fc.anything()), (value) => {
      const read = decodePermit(value);
      if (read.kind !== 'allow') return;
      expect(typeof value).toBe('string');
      expect((JSON.parse(value as string) as { allow: unknown }).allow).toBe(true);
      expect(read.permit.safeCloseQty.gt(0)).toBe(true);
    });
  });
});

describe('hostile input: the rules', () => {
  const config = {
    staleThresholdSec: 10,
    cooldownSec: 15,
    qtyTolerancePct: 1,
    planMaxAgeSec: 30,
    requireReconcile: true,
  };

  it('evaluatePlan on decoded garbage never throws; an ALLOW always rests on a fresh, readable snapshot and ledger', () => {
    const inputs = fc.tuple(
      hashOf(PLAN_FIELDS),
      hashOf(SNAPSHOT_FIELDS),
      hashOf(LEDGER_FIELDS),
      hashOf(['step_size', 'min_qty', 'max_qty']),
      fc.boolean(),
      fc.boolean(),
    );
    let allows = 0;
    run(inputs, ([planHash, snapHash, ledgerHash, lotHash, hold, heartbeat]) => {
      const parsed = parsePlan(`${NOW}-0`, { plan_id: 'p1', decision: 'EXECUTE', ...planHash });
      if (parsed.kind !== 'execute') return;
      const lotSize = decodeLotSize(lotHash);
      const snapshot = decodeSnapshot(snapHash);
      const ledger = decodeLedger(ledgerHash, epsilonFor(lotSize?.stepSize));
      const decision = evaluatePlan({
        plan: parsed.plan,
        snapshot,
        ledger,
        holdPresent: hold,
        reconcileHeartbeatPresent: heartbeat,
        lotSize,
        nowMs: NOW,
        config,
        allowlist: new Set(['BTCUSDT']),
      });
      if (!decision.allow) {
        expect(decision.failed.length).toBeGreaterThan(0);
        return;
      }
      allows += 1;
      expect(snapshot.kind).toBe('ok');
      expect(ledger.kind).toBe('ok');
      expect(hold).toBe(false);
      expect(heartbeat).toBe(true);
      if (snapshot.kind !== 'ok' || lotSize === null) throw new Error('unreachable');
      expect(Math.abs(NOW - snapshot.snapshot.takenMs)).toBeLessThanOrEqual(10_000);
      expect(decision.safeCloseQty.gt(0)).toBe(true);
      expect(decision.safeCloseQty.lte(snapshot.snapshot.amount.abs())).toBe(true);
      expect(decision.safeCloseQty.mod(lotSize.stepSize).isZero()).toBe(true);
    });
    // Garbage almost never allows; the property above is what matters, not the count.
    expect(allows).toBeGreaterThanOrEqual(0);
  });

  it('decide on decoded garbage never throws and never repairs from a stale, future or missing snapshot', () => {
    const inputs = fc.tuple(
      hashOf(SNAPSHOT_FIELDS),
      hashOf(LEDGER_FIELDS),
      fc.integer({ min: -120_000, max: 120_000 }),
    );
    run(inputs, ([snapHash, ledgerHash, skewMs]) => {
      const snapshot = decodeSnapshot(snapHash);
      const decision = decide({
        symbol: 'BTCUSDT',
        snapshot,
        ledger: decodeLedger(ledgerHash, epsilonFor(null)),
        lotSize: null,
        evidence: [],
        usedEvidence: new Set(),
        nowMs: NOW + skewMs,
        config: { exchangeFreshnessSec: 10, qtyDriftTolerancePct: 1, evidenceWindowSec: 300 },
      });
      // No evidence was offered: a repair is impossible whatever the hashes hold.
      expect(decision.action).not.toBe('auto_repair');
      if (decision.action === 'ledger_init') {
        expect(snapshot.kind).toBe('ok');
        if (snapshot.kind !== 'ok') return;
        const age = NOW + skewMs - snapshot.snapshot.takenMs;
        expect(age).toBeLessThanOrEqual(10_000);
        expect(age).toBeGreaterThanOrEqual(-1000);
      }
      if (snapshot.kind !== 'ok') expect(decision.status).toBe('HOLD');
      expect(decision.exchangeAmt === null || decision.exchangeAmt.isFinite()).toBe(true);
    });
  });

  it('records the figure', () => {
    expect(counts.cases).toBeGreaterThanOrEqual(RUNS * 8);
    expect(ZERO.isZero()).toBe(true);
    recordFigure('codec-fuzz', {
      fault: 'hostile values in every codec and rule (pure)',
      test: 'test/reliability/codec-fuzz.test.ts',
      iterations: counts.cases,
      observed:
        'no throw; garbage never read as zero/flat; no ALLOW or repair from unreadable data',
      lost: 0,
      extra: { amountsRejectedAfterWrite: asymmetric.length, examples: asymmetric.slice(0, 3) },
    });
  });
});
