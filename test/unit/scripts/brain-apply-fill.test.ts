/** brain_apply_fill: encode and decode, no Redis (node-redis' pure half of a command spec). */
import { describe, expect, it } from 'vitest';
import { buildKeys } from '../../../src/redis/keys.js';
import { type ApplyFillArgs, brainApplyFill } from '../../../src/redis/scripts/brain-apply-fill.js';
import { commandArgs, decodeReply } from '../../../src/redis/scripts/script.js';

const keys = buildKeys('q');
const base: ApplyFillArgs = {
  keys,
  symbol: 'BTCUSDT',
  entryId: '5-1',
  expectedVersion: '',
  fields: {},
  group: 'g',
  ledgerTtlMs: 86_400_000,
  markerTtlMs: 3_600_000,
};

describe('brain_apply_fill encode', () => {
  it('ledger, marker and stream in KEYS; one JSON object as ARGV; last_result_id is never passed (the script owns it)', () => {
    const call = brainApplyFill.encode({
      ...base,
      fields: { ledger_amt: '1', last_result_id: '9-9' },
      ledgerTtlMs: 86_400_000.4,
    });
    expect(call.keys).toEqual([
      'q:position:ledger:BTCUSDT',
      'q:posguard:result:applied:5-1',
      'q:stream:apply.result',
    ]);
    expect(call.argv).toEqual({
      group: 'g',
      entry_id: '5-1',
      expect_version: '',
      ledger_ttl_ms: 86_400_000,
      marker_ttl_ms: 3_600_000,
      mode: 'fill',
      ledger: { ledger_amt: '1' },
    });
    expect(commandArgs(brainApplyFill, call)).toEqual([3, ...call.keys, JSON.stringify(call.argv)]);
  });

  it('a fill with a key-safe order id passes its order-accounted marker as KEYS[4]', () => {
    expect(brainApplyFill.encode({ ...base, orderId: '11986721004' }).keys).toEqual([
      'q:position:ledger:BTCUSDT',
      'q:posguard:result:applied:5-1',
      'q:stream:apply.result',
      'q:posguard:order:accounted:BTCUSDT:11986721004',
    ]);
  });

  it('no marker for an unconfirmed order, a fill without an order id, or an id unfit for a key', () => {
    const order = brainApplyFill.encode({ ...base, orderId: '7', mode: 'order' });
    expect(order.keys).toHaveLength(3);
    expect(order.argv.mode).toBe('order');
    for (const orderId of [null, undefined, '', 'a b', 'x*', 'é', '9'.repeat(65)])
      expect(brainApplyFill.encode({ ...base, orderId }).keys, String(orderId)).toHaveLength(3);
  });

  it('never a TTL below 1 ms; refuses to build an invalid symbol or entry id into a key', () => {
    const call = brainApplyFill.encode({ ...base, ledgerTtlMs: 0.2, markerTtlMs: -5 });
    expect(call.argv).toMatchObject({ ledger_ttl_ms: 1, marker_ttl_ms: 1 });
    expect(() => brainApplyFill.encode({ ...base, symbol: 'btc usdt' })).toThrow();
    expect(() => brainApplyFill.encode({ ...base, entryId: 'not-an-id' })).toThrow();
  });
});

describe('brain_apply_fill decode', () => {
  const decode = (reply: unknown) => decodeReply(brainApplyFill, JSON.stringify(reply));
  it('maps every status to its typed result', () => {
    for (const status of ['applied', 'recorded', 'duplicate', 'conflict', 'order_accounted'])
      expect(decode({ status })).toEqual({ status });
    expect(
      decode({ status: 'wrong_type', key: 'q:posguard:result:applied:5-1', found: 'list' }),
    ).toEqual({
      status: 'wrong_type',
      key: 'q:posguard:result:applied:5-1',
      found: 'list',
    });
  });
  it('an unknown status, an old string reply or a malformed one is SCRIPT_REPLY_INVALID', () => {
    for (const reply of [
      { status: 'APPLIED' },
      { status: 'wrong_type', key: 'k' },
      { status: 'wrong_type:ledger' },
      { applied: true },
    ]) {
      expect(() => decode(reply), JSON.stringify(reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
    }
    for (const reply of ['applied', 'wrong_type:marker', 1, null]) {
      expect(() => decodeReply(brainApplyFill, reply), String(reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
    }
  });
});
