import { describe, expect, it } from 'vitest';
import { parseAmount } from '../../src/domain/amount.js';
import { decodePermit } from '../../src/domain/permit.js';
import {
  decodeGovernorPermit,
  gateAcceptsQty,
  isPermitTrue,
  p33PermitPasses,
} from '../../src/gate/permit-codec.js';
import { gateResultOf } from '../../src/gate/consume-permits.js';

const ALLOW = (qty: string): string =>
  `{"plan_id":"p1","symbol":"BTCUSDT","allow":true,"safe_close_qty":${qty}}`;

describe('the gate on the P3.3 permit (read with the brain codec)', () => {
  it('passes an allow permit and keeps safe_close_qty exactly as written', () => {
    const read = decodePermit(ALLOW('0.100000000000000005551115123125'));
    expect(p33PermitPasses(read)).toBe(true);
    expect(read.kind === 'allow' && read.permit.safeCloseQty.toFixed()).toBe(
      '0.100000000000000005551115123125',
    );
    // More than 30 decimals is unreadable for the codec, so the gate refuses it.
    expect(p33PermitPasses(decodePermit(ALLOW('0.1000000000000000055511151231257827')))).toBe(
      false,
    );
  });

  it('refuses deny permits, malformed ones, and quantities outside the gate bound', () => {
    expect(
      p33PermitPasses(
        decodePermit('{"plan_id":"p","symbol":"S1","allow":false,"reason":"no_position"}'),
      ),
    ).toBe(false);
    for (const qty of [
      '0',
      '-1',
      '"abc"',
      'null',
      '"1e999"',
      '"0x10"',
      '"4E-700"',
      '1e18',
      '" 1"',
    ]) {
      expect([qty, p33PermitPasses(decodePermit(ALLOW(qty)))]).toEqual([qty, false]);
    }
    expect(p33PermitPasses(decodePermit('not json'))).toBe(false);
  });

  it('gateAcceptsQty: 0 < double < 1e18, no blanks around a string', () => {
    const a = (text: string) => parseAmount(text) ?? parseAmount('0')!;
    expect(gateAcceptsQty(a('0.028'), 0.028)).toBe(true);
    expect(gateAcceptsQty(a('0.028'), '0.028')).toBe(true);
    expect(gateAcceptsQty(a('1'), ' 1')).toBe(false);
    expect(gateAcceptsQty(a('4e-700'), '4e-700')).toBe(false);
    expect(gateAcceptsQty(a('999999999999999999.9'), '999999999999999999.9')).toBe(false);
    expect(gateAcceptsQty(a('999999999999999'), 999999999999999)).toBe(true);
  });
});

describe('the Governor permit', () => {
  it('granted is exactly true, 1 or "true"/"1"/"yes" in any case', () => {
    for (const v of [true, 1, 'true', 'True', 'TRUE', '1', 'yes', 'YES'])
      expect(isPermitTrue(v)).toBe(true);
    for (const v of [false, 0, 2, 'false', 'no', '', 'granted', null, undefined, {}, [true]]) {
      expect(isPermitTrue(v)).toBe(false);
    }
  });

  it('must be a JSON object; bare values are invalid', () => {
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
    expect(decodeGovernorPermit('[1]').kind).toBe('invalid');
  });
});

// The script's reply itself (JSON, every status, unknown ones) is decoded by the spec:
// test/unit/scripts/gate-consume.test.ts.
describe('the gate result of each gate_consume.lua reply', () => {
  it('maps every status of gate_consume.lua', () => {
    expect(gateResultOf({ status: 'missing_permit_or_redis' })).toEqual({
      ok: false,
      code: 'missing_permit_or_redis',
    });
    expect(gateResultOf({ status: 'governor_denied', reason: 'not_granted' })).toEqual({
      ok: false,
      code: 'governor_denied',
      governorReason: 'not_granted',
    });
    expect(gateResultOf({ status: 'missing_or_denied_p33_permit', reason: 'no_position' })).toEqual(
      {
        ok: false,
        code: 'missing_or_denied_p33_permit',
        p33Reason: 'no_position',
      },
    );
    expect(gateResultOf({ status: 'consumed', permitJson: ALLOW('0.028') })).toMatchObject({
      ok: true,
      safeCloseQty: '0.028',
    });
  });

  it('fails closed if a consumed permit were unreadable', () => {
    for (const json of [
      '{"allow":true}',
      ALLOW('" 1"'),
      '{"plan_id":"p","symbol":"S1","allow":false}',
    ]) {
      expect(gateResultOf({ status: 'consumed', permitJson: json })).toMatchObject({
        ok: false,
        code: 'missing_or_denied_p33_permit',
        p33Reason: 'invalid',
      });
    }
  });
});
