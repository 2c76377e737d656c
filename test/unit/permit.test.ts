import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Decimal } from '../../src/domain/amount.js';
import { evaluatePlan } from '../../src/domain/permit-rules.js';
import {
  decodePermit,
  encodePermit,
  internalErrorDecision,
  jsonWithDecimals,
} from '../../src/domain/permit.js';
import { NOW_MS, healthy, snapshot } from '../brain/fixtures.js';
import { assertProperty } from '../helpers/property.js';

const ID = { planId: 'plan-1', symbol: 'BTCUSDT', nowMs: NOW_MS };

describe('permit JSON', () => {
  it('writes the seed allow shape with exact decimals (0.028, never 0.028000000000000001)', () => {
    const json = encodePermit(evaluatePlan(healthy()), ID);
    expect(json).toContain('"safe_close_qty":0.028,');
    expect(json).toContain('"requested_qty":0.0285,');
    expect(JSON.parse(json)).toEqual({
      plan_id: 'plan-1',
      symbol: 'BTCUSDT',
      allow: true,
      safe_close_qty: 0.028,
      exchange_position_amt: 0.038,
      ledger_position_amt: 0.038,
      snapshot_age_sec: 2,
      ts_epoch: 1737672000,
      ts_ms: NOW_MS,
      requested_qty: 0.0285,
      close_fraction: 0.75,
      step_size: 0.001,
    });
  });

  it('writes the seed deny shape: reason, first details at the top, every failure in failed', () => {
    const json = encodePermit(
      evaluatePlan(healthy({ snapshot: snapshot('0.038', 15.7), holdPresent: true })),
      ID,
    );
    const permit = JSON.parse(json) as Record<string, unknown>;
    expect(permit).toMatchObject({
      plan_id: 'plan-1',
      symbol: 'BTCUSDT',
      allow: false,
      reason: 'stale_exchange_state',
      ts_epoch: 1737672000,
    });
    expect(permit.details).toEqual({
      snapshot_age_sec: 15.7,
      threshold_sec: 10,
      failed: [
        { check: 1, reason: 'stale_exchange_state', snapshot_age_sec: 15.7, threshold_sec: 10 },
        { check: 7, reason: 'reconcile_hold_active', symbol: 'BTCUSDT' },
      ],
    });
  });

  it('keeps long decimals exact as number literals', () => {
    expect(
      jsonWithDecimals({ q: new Decimal('12345678.123456789'), s: new Decimal('-0.00000001') }),
    ).toBe('{"q":12345678.123456789,"s":-0.00000001}');
  });

  it('decodes what it encodes, both kinds', () => {
    const allow = decodePermit(encodePermit(evaluatePlan(healthy()), ID));
    expect(allow.kind).toBe('allow');
    if (allow.kind === 'allow') {
      expect(allow.permit.safeCloseQty.toFixed()).toBe('0.028');
      expect(allow.permit.exchangeAmt?.toFixed()).toBe('0.038');
      expect(allow.permit.tsMs).toBe(NOW_MS);
    }
    const deny = decodePermit(encodePermit(internalErrorDecision('boom'), ID));
    expect(deny).toMatchObject({
      kind: 'deny',
      permit: { reason: 'internal_error', details: { problem: 'boom' } },
    });
  });

  it('reads quantities exactly as written, or not at all (never through a float)', () => {
    const allow = (qty: string) =>
      `{"plan_id":"p","symbol":"S","allow":true,"safe_close_qty":${qty}}`;
    const read = (qty: string) => {
      const r = decodePermit(allow(qty));
      return r.kind === 'allow' ? r.permit.safeCloseQty.toFixed() : r.kind;
    };
    expect(read('0.028')).toBe('0.028');
    expect(read('1e-3')).toBe('0.001');
    expect(read('"0.5"')).toBe('0.5');
    expect(read('12345678.123456789')).toBe('12345678.123456789');
    // More decimals than an amount may carry: unreadable, not rounded to 0.1.
    expect(read('0.1000000000000000055511151231257827')).toBe('invalid');
    expect(read('1e400')).toBe('invalid');
    // A nested key of the same name must not stand in for the top-level one.
    expect(
      decodePermit(
        '{"plan_id":"p","symbol":"S","allow":true,"x":{"safe_close_qty":5},"safe_close_qty":0.5}',
      ).kind,
    ).toBe('invalid');
  });

  it('reads garbage and wrong types as invalid, never as allow (LESSONS #18)', () => {
    expect(decodePermit(null)).toEqual({ kind: 'missing' });
    for (const bad of [
      42,
      {},
      'not json',
      '[]',
      '"allow"',
      '{"allow":true}',
      '{"plan_id":"p","symbol":"S","allow":"true","safe_close_qty":1}',
      '{"plan_id":"p","symbol":"S","allow":1,"safe_close_qty":1}',
      '{"plan_id":"p","symbol":"S","allow":true}',
      '{"plan_id":"p","symbol":"S","allow":true,"safe_close_qty":0}',
      '{"plan_id":"p","symbol":"S","allow":true,"safe_close_qty":-1}',
      '{"plan_id":"p","symbol":"S","allow":true,"safe_close_qty":"abc"}',
    ]) {
      expect(decodePermit(bad).kind, JSON.stringify(bad)).toBe('invalid');
    }
  });

  it('is total on arbitrary strings and JSON values', () => {
    assertProperty(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        (text) => {
          expect(['missing', 'invalid', 'allow', 'deny']).toContain(decodePermit(text).kind);
        },
      ),
    );
  });
});
