import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { topLevelRawNumbers } from '../../src/gate/json-raw-numbers.js';
import {
  decodeGovernorPermit,
  decodeP33Permit,
  isPermitTrue,
  p33PermitPasses,
} from '../../src/gate/permit-codec.js';
import { decodeGateReply, gateResultOf } from '../../src/gate/consume-permits.js';
import { PosguardError } from '../../src/errors.js';

describe('topLevelRawNumbers', () => {
  it('keeps the literal text of top-level numbers and skips nested ones', () => {
    const json =
      '{"a": 0.1000000000000000055511151231257827, "s": "x\\"}", "n": {"safe_close_qty": 9},' +
      ' "arr": [1, {"b": 2}], "t": true, "z": null, "e": -1.5e-7}';
    const numbers = topLevelRawNumbers(json);
    expect(numbers).not.toBeNull();
    expect(Object.fromEntries(numbers ?? [])).toEqual({
      a: '0.1000000000000000055511151231257827',
      e: '-1.5e-7',
    });
  });

  it('returns null for anything that is not an object', () => {
    expect(topLevelRawNumbers('[1,2]')).toBeNull();
    expect(topLevelRawNumbers('1')).toBeNull();
    expect(topLevelRawNumbers('{"a": }')).toBeNull();
    expect(topLevelRawNumbers('{"a": 1')).toBeNull();
  });

  it('agrees with JSON.parse on which members are numbers, for any object', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const text = JSON.stringify(obj);
        const numbers = topLevelRawNumbers(text);
        expect(numbers).not.toBeNull();
        const parsed = JSON.parse(text) as Record<string, unknown>;
        const expected = Object.entries(parsed).filter(([, v]) => typeof v === 'number');
        expect([...(numbers ?? new Map<string, string>()).keys()].sort()).toEqual(
          expected.map(([k]) => k).sort(),
        );
        for (const [key, value] of expected) expect(Number(numbers?.get(key))).toBe(value);
      }),
    );
  });
});

describe('decodeP33Permit', () => {
  it('reads safe_close_qty exactly as written, number or string', () => {
    const a = decodeP33Permit(
      '{"allow":true,"safe_close_qty":0.1000000000000000055511151231257827}',
    );
    expect(a.kind === 'ok' && a.permit.safeCloseQty?.toFixed()).toBe(
      '0.1000000000000000055511151231257827',
    );
    const b = decodeP33Permit('{"allow":true,"safe_close_qty":"0.028"}');
    expect(b.kind === 'ok' && b.permit.safeCloseQty?.toFixed()).toBe('0.028');
    const c = decodeP33Permit('{"allow":true,"safe_close_qty":1e-5}');
    expect(c.kind === 'ok' && c.permit.safeCloseQty?.toFixed()).toBe('0.00001');
  });

  it('reads a deny permit with its reason and details', () => {
    const read = decodeP33Permit(
      '{"plan_id":"p1","symbol":"BTCUSDT","allow":false,"reason":"stale_exchange_state","details":{"snapshot_age_sec":15.7},"ts_epoch":1737672000}',
    );
    expect(read.kind).toBe('ok');
    if (read.kind !== 'ok') return;
    expect(read.permit).toMatchObject({
      planId: 'p1',
      symbol: 'BTCUSDT',
      allow: false,
      reason: 'stale_exchange_state',
      details: { snapshot_age_sec: 15.7 },
      tsEpoch: 1737672000,
    });
    expect(p33PermitPasses(read.permit)).toBe(false);
  });

  it('does not pass an allow permit without a positive quantity', () => {
    for (const qty of ['0', '-1', '"abc"', 'null', '"1e999"', '"0x10"']) {
      const read = decodeP33Permit(`{"allow":true,"safe_close_qty":${qty}}`);
      expect(read.kind === 'ok' && p33PermitPasses(read.permit)).toBe(false);
    }
  });

  it('rejects text that is not a JSON object', () => {
    expect(decodeP33Permit('not json')).toEqual({ kind: 'invalid', problem: 'not JSON' });
    expect(decodeP33Permit('[1]')).toEqual({ kind: 'invalid', problem: 'not a JSON object' });
    expect(decodeP33Permit('1')).toEqual({ kind: 'invalid', problem: 'not a JSON object' });
  });
});

describe('permit truth values', () => {
  it('accepts exactly true, 1 and "true"/"1"/"yes" in any case', () => {
    for (const v of [true, 1, 'true', 'True', 'TRUE', '1', 'yes', 'YES'])
      expect(isPermitTrue(v)).toBe(true);
    for (const v of [false, 0, 2, 'false', 'no', '', 'granted', null, undefined, {}, [true]]) {
      expect(isPermitTrue(v)).toBe(false);
    }
  });

  it('reads a governor permit; bare values are invalid', () => {
    expect(decodeGovernorPermit('{"granted":true}')).toMatchObject({
      kind: 'ok',
      permit: { granted: true },
    });
    expect(decodeGovernorPermit('{"granted":"false"}')).toMatchObject({
      kind: 'ok',
      permit: { granted: false },
    });
    expect(decodeGovernorPermit('1').kind).toBe('invalid');
    expect(decodeGovernorPermit('granted').kind).toBe('invalid');
  });
});

describe('gate reply decoding', () => {
  it('maps every status of gate_consume.lua', () => {
    expect(gateResultOf(decodeGateReply(['missing_permit_or_redis', '']))).toEqual({
      ok: false,
      code: 'missing_permit_or_redis',
    });
    expect(gateResultOf(decodeGateReply(['governor_denied', 'not_granted']))).toEqual({
      ok: false,
      code: 'governor_denied',
      governorReason: 'not_granted',
    });
    expect(gateResultOf(decodeGateReply(['missing_or_denied_p33_permit', 'no_position']))).toEqual({
      ok: false,
      code: 'missing_or_denied_p33_permit',
      p33Reason: 'no_position',
    });
    const ok = gateResultOf(decodeGateReply(['OK', '{"allow":true,"safe_close_qty":0.028}']));
    expect(ok).toMatchObject({ ok: true, safeCloseQty: '0.028' });
  });

  it('fails closed if a consumed permit were unreadable', () => {
    expect(gateResultOf({ status: 'OK', permitJson: '{"allow":true}' })).toMatchObject({
      ok: false,
      code: 'missing_or_denied_p33_permit',
      p33Reason: 'invalid',
    });
  });

  it('rejects unknown replies with SCRIPT_REPLY_INVALID', () => {
    for (const reply of [null, 'OK', ['NOPE', 'x'], ['OK'], ['OK', 5]]) {
      expect(() => decodeGateReply(reply)).toThrow(PosguardError);
    }
  });
});
