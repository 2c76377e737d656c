/**
 * What the simulator writes is read by the real codecs the way the services read it:
 * every apply.result shape the Apply Layer stub rotates through is the same fill to the
 * shared parser (LESSONS #2), plans parse as EXECUTE plans, and the garbage of the
 * `malformed` step is bad input (or a plan the rules must deny), never a fill.
 */
import { describe, expect, it } from 'vitest';
import { Decimal, formatAmount } from '../../src/domain/amount.js';
import { parseApplyResult } from '../../src/domain/apply-result.js';
import { parsePlan } from '../../src/domain/plan.js';
import { refillOrder } from '../../src/dev/pipeline/position-keeper.js';
import {
  type ResultShape,
  encodeExecutedResult,
  encodeNotExecutedResult,
  shapeForSequence,
} from '../../src/dev/pipeline/result-shapes.js';
import {
  UNKNOWN_ACTION,
  encodePlan,
  malformedPlanEntries,
  malformedResultEntries,
} from '../../src/dev/pipeline/plan-fields.js';

const SHAPES: ResultShape[] = ['steps', 'flat', 'flat_1', 'steps_yes', 'details', 'close_handler'];

describe('apply.result shapes', () => {
  it('rotates through every shape, mostly the two common ones', () => {
    const seen = Array.from({ length: 16 }, (_, i) => shapeForSequence(i));
    expect(new Set(seen)).toEqual(new Set(SHAPES));
    expect(seen.filter((s) => s === 'steps' || s === 'flat').length).toBe(8);
  });

  it.each(SHAPES)('%s parses to the same signed fill', (shape) => {
    const fields = encodeExecutedResult(
      {
        planId: 'sim-1:7',
        symbol: 'BTCUSDT',
        orderId: '1000042',
        side: 'SELL',
        executedQty: new Decimal('0.012'),
        reduceOnly: true,
        timeMs: 1_700_000_000_123,
      },
      shape,
    );
    const parsed = parseApplyResult('1700000000200-0', fields);
    expect(parsed.kind).toBe('fill');
    if (parsed.kind !== 'fill') return;
    expect(formatAmount(parsed.fill.signedQty)).toBe('-0.012');
    expect(parsed.fill.orderId).toBe('1000042');
    expect(parsed.fill.planId).toBe('sim-1:7');
    // intent_executor records no reduce-only flag: its fills are applied exactly.
    expect(parsed.fill.reduceOnly).toBe(shape !== 'details');
    // Real writers' integer seconds drop the milliseconds.
    const intSeconds = shape === 'details' || shape === 'close_handler';
    expect(Math.abs(parsed.fill.timeMs - 1_700_000_000_123)).toBeLessThanOrEqual(
      intSeconds ? 999 : 1,
    );
  });

  it('marks opening orders reduce_only=false', () => {
    const fields = encodeExecutedResult(
      {
        planId: 'open:BTCUSDT:1',
        symbol: 'BTCUSDT',
        orderId: '9',
        side: 'BUY',
        executedQty: new Decimal('0.031'),
        reduceOnly: false,
        timeMs: 1_700_000_000_000,
      },
      'flat',
    );
    const parsed = parseApplyResult('1700000000000-0', fields);
    expect(parsed.kind === 'fill' && parsed.fill.reduceOnly).toBe(false);
    expect(parsed.kind === 'fill' && formatAmount(parsed.fill.signedQty)).toBe('0.031');
  });

  it('a failed order is a result without a fill', () => {
    const fields = encodeNotExecutedResult({
      planId: 'p',
      symbol: 'BTCUSDT',
      error: 'HTTP 429',
      timeMs: 1,
    });
    expect(parseApplyResult('1-0', fields).kind).toBe('not_executed');
  });
});

describe('plans and garbage', () => {
  it('plans are EXECUTE, reduce-only, with their action or explicit qty', () => {
    const byAction = parsePlan(
      '1-0',
      encodePlan({
        planId: 'sim-1:1',
        symbol: 'ETHUSDT',
        action: 'CLOSE_PARTIAL_75',
        timeMs: 1_700_000_000_000,
      }),
    );
    expect(byAction.kind).toBe('execute');
    if (byAction.kind !== 'execute') return;
    expect(byAction.plan.reduceOnly).toBe(true);
    expect(byAction.plan.closeFraction?.toString()).toBe('0.75');
    const unknown = parsePlan(
      '1-0',
      encodePlan({ planId: 'sim-1:2', symbol: 'ETHUSDT', action: UNKNOWN_ACTION, timeMs: 1 }),
    );
    expect(unknown.kind === 'execute' && unknown.plan.closeFraction).toBeNull();
    const byQty = parsePlan(
      '1-0',
      encodePlan({
        planId: 'sim-1:3',
        symbol: 'ETHUSDT',
        action: null,
        qty: new Decimal('0.5'),
        timeMs: 1,
      }),
    );
    expect(byQty.kind === 'execute' && byQty.plan.explicitQty?.toString()).toBe('0.5');
  });

  it('garbage plans are bad input or plans the rules must deny', () => {
    for (const entry of malformedPlanEntries('g1')) {
      const parsed = parsePlan('1-0', entry.fields);
      if (entry.expect === 'bad_input') expect(parsed.kind).toBe('bad');
      else {
        expect(parsed.kind).toBe('execute');
        if (parsed.kind === 'execute')
          expect(!parsed.plan.symbolValid || parsed.plan.qtyProblem !== null).toBe(true);
      }
    }
  });

  it('garbage results are bad input, never a fill', () => {
    for (const fields of malformedResultEntries('g1', 'BTCUSDT')) {
      expect(parseApplyResult('1-0', fields).kind).toBe('malformed');
    }
  });
});

describe('position keeper', () => {
  const lot = { stepSize: new Decimal('0.001'), minQty: new Decimal('0.001'), maxQty: null };

  it('refills a worn position to its target in its own direction', () => {
    expect(refillOrder(new Decimal('0.01'), new Decimal('0.05'), lot, 0.4)?.toString()).toBe(
      '0.04',
    );
    expect(refillOrder(new Decimal('-0.3'), new Decimal('1.2'), lot, 0.4)?.toString()).toBe('-0.9');
    expect(refillOrder(new Decimal('0'), new Decimal('-1.2'), lot, 0.4)?.toString()).toBe('-1.2');
    expect(refillOrder(new Decimal('0.03'), new Decimal('0.05'), lot, 0.4)).toBeNull();
  });
});
