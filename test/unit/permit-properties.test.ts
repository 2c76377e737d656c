/**
 * Properties of the permit rules (STYLE.md): the safe close size is a multiple of the
 * step, never above |position|, never below min qty (or the plan is denied), and the
 * rules are total — no input makes them throw.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Decimal, type Amount, epsilonFor } from '../../src/domain/amount.js';
import { decodeLedger } from '../../src/domain/ledger.js';
import { parsePlan } from '../../src/domain/plan.js';
import { type RuleInputs, evaluatePlan } from '../../src/domain/permit-rules.js';
import { encodePermit, decodePermit } from '../../src/domain/permit.js';
import { decodeSnapshot } from '../../src/domain/snapshot.js';
import { NOW_MS, RULES, healthy, lot, plan, snapshot, ledger } from '../brain/fixtures.js';
import { assertProperty } from '../helpers/property.js';

const STEPS = ['1', '0.1', '0.01', '0.001', '0.0001', '0.00001', '0.5', '0.025'];
const ACTIONS = ['FULL_CLOSE', 'CLOSE_PARTIAL_75', 'PARTIAL_50', 'CLOSE_PARTIAL_25', 'UNKNOWN'];

const decimalText = fc
  .tuple(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 8 }), fc.boolean())
  .map(
    ([n, scale, neg]) =>
      `${neg ? '-' : ''}${new Decimal(n).div(new Decimal(10).pow(scale)).toFixed()}`,
  );

describe('permit rule properties', () => {
  it('safe_close_qty is a multiple of the step, ≤ |position|, ≥ min qty — or the plan is denied', () => {
    let allowed = 0;
    assertProperty(
      fc.property(
        decimalText,
        fc.constantFrom(...STEPS),
        fc.integer({ min: 0, max: 20 }),
        fc.constantFrom(...ACTIONS),
        fc.option(decimalText, { nil: undefined }),
        (amount, step, minSteps, action, qty) => {
          const stepSize = new Decimal(step);
          const minQty = stepSize.mul(minSteps);
          const inputs = healthy({
            plan: plan({ action, ...(qty === undefined ? {} : { qty: qty.replace('-', '') }) }),
            snapshot: snapshot(amount),
            ledger: ledger(amount),
            lotSize: lot(step, minQty.toFixed()),
          });
          const decision = evaluatePlan(inputs);
          if (!decision.allow) return;
          allowed += 1;
          const safe: Amount = decision.safeCloseQty;
          expect(safe.gt(0)).toBe(true);
          expect(safe.mod(stepSize).isZero()).toBe(true);
          expect(safe.lte(new Decimal(amount).abs())).toBe(true);
          expect(safe.gte(minQty)).toBe(true);
          expect(decision.exchangeAmt.toFixed()).toBe(new Decimal(amount).toFixed());
          // The permit JSON carries the same exact text.
          const read = decodePermit(
            encodePermit(decision, { planId: 'p', symbol: 'BTCUSDT', nowMs: NOW_MS }),
          );
          expect(read.kind === 'allow' && read.permit.safeCloseQty.toFixed()).toBe(safe.toFixed());
        },
      ),
      { numRuns: 2000 },
    );
    // The property must actually have been exercised on allows, not only on denies.
    expect(allowed).toBeGreaterThan(500);
  });

  it('evaluatePlan is total: arbitrary plans, hashes, lot sizes and clocks never throw', () => {
    const text = fc.oneof(
      fc.string(),
      decimalText,
      fc.constantFrom('', 'NaN', '1e-05', 'LONG', 'SHORT', 'FLAT', '-0'),
    );
    const hash = fc.dictionary(
      fc.constantFrom(
        'position_amt',
        'ts_ms',
        'ts_epoch',
        'ledger_amt',
        'ledger_side',
        'last_known_amt',
        'last_known_side',
        'version',
        'last_order_time_ms',
        'last_order_time_epoch',
        'side',
      ),
      text,
    );
    const planFields = fc.dictionary(
      fc.constantFrom(
        'plan_id',
        'symbol',
        'decision',
        'action',
        'qty',
        'close_qty',
        'ts',
        'reduceOnly',
      ),
      text,
    );
    assertProperty(
      fc.property(
        planFields,
        hash,
        hash,
        fc.record({
          step: decimalText,
          min: decimalText,
          max: fc.option(decimalText, { nil: null }),
        }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: -1e13, max: 1e13 }),
        (fields, snapHash, ledgerHash, lotRaw, hold, heartbeat, now) => {
          const parsed = parsePlan('1737672000000-0', {
            plan_id: 'p',
            decision: 'EXECUTE',
            ...fields,
          });
          const planInput = parsed.kind === 'execute' ? parsed.plan : plan();
          const inputs: RuleInputs = {
            plan: planInput,
            snapshot: decodeSnapshot(snapHash),
            ledger: decodeLedger(ledgerHash, epsilonFor(null)),
            holdPresent: hold,
            reconcileHeartbeatPresent: heartbeat,
            lotSize: {
              stepSize: new Decimal(lotRaw.step),
              minQty: new Decimal(lotRaw.min),
              maxQty: lotRaw.max === null ? null : new Decimal(lotRaw.max),
            },
            nowMs: now,
            config: RULES,
            allowlist: new Set(['BTCUSDT']),
          };
          const decision = evaluatePlan(inputs);
          expect(typeof decision.allow).toBe('boolean');
          if (!decision.allow) expect(decision.failed.length).toBeGreaterThan(0);
          expect(() =>
            encodePermit(decision, { planId: 'p', symbol: planInput.symbol, nowMs: now }),
          ).not.toThrow();
        },
      ),
      { numRuns: 2000 },
    );
  });
});
