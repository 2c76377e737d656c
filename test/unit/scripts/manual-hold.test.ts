/** manual_hold: encode and decode, no Redis (node-redis' pure half of a command spec). */
import { describe, expect, it } from 'vitest';
import { buildKeys } from '../../../src/redis/keys.js';
import { manualHold } from '../../../src/redis/scripts/manual-hold.js';
import { commandArgs, decodeReply } from '../../../src/redis/scripts/script.js';

const keys = buildKeys('q');
const EVENT = ['event', 'MANUAL_HOLD_SET', 'symbol', 'BTCUSDT', 'reason', 'r'];

describe('manual_hold encode', () => {
  it('hold, owner marker and events stream in KEYS; one JSON object as ARGV, event fields in order', () => {
    const call = manualHold.encode({
      keys,
      symbol: 'BTCUSDT',
      change: { mode: 'set', ttlMs: 240_000.6 },
      eventsMaxlen: 10_000,
      event: EVENT,
    });
    expect(call.keys).toEqual([
      'q:reconcile:hold:BTCUSDT',
      'q:posguard:hold:owner:BTCUSDT',
      'q:stream:reconcile.events',
    ]);
    expect(call.argv).toEqual({
      mode: 'set',
      ttl_ms: 240_001,
      events_maxlen: 10_000,
      event: EVENT,
    });
    expect(commandArgs(manualHold, call)).toEqual([...call.keys, JSON.stringify(call.argv)]);
  });
  it('clear carries no TTL; a set TTL is whole ms, not clamped (the script refuses < 1)', () => {
    const clear = manualHold.encode({
      keys,
      symbol: 'BTCUSDT',
      change: { mode: 'clear' },
      eventsMaxlen: 10,
      event: [],
    });
    expect(clear.argv).toEqual({ mode: 'clear', events_maxlen: 10, event: [] });
    const tiny = manualHold.encode({
      keys,
      symbol: 'BTCUSDT',
      change: { mode: 'set', ttlMs: 0.2 },
      eventsMaxlen: 10,
      event: [],
    });
    expect(tiny.argv.ttl_ms).toBe(0);
  });
  it('refuses to build an invalid symbol into a key', () => {
    expect(() =>
      manualHold.encode({
        keys,
        symbol: 'BTC USDT*',
        change: { mode: 'clear' },
        eventsMaxlen: 10,
        event: [],
      }),
    ).toThrow();
  });
});

describe('manual_hold decode', () => {
  const decode = (reply: unknown) => decodeReply(manualHold, JSON.stringify(reply));
  it('maps every status to its typed result', () => {
    for (const owner of ['none', 'operator', 'p34', 'shared'] as const) {
      expect(decode({ status: 'ok', previous_owner: owner })).toEqual({
        status: 'ok',
        previousOwner: owner,
      });
    }
    expect(decode({ status: 'no_hold' })).toEqual({ status: 'no_hold' });
    expect(decode({ status: 'wrong_type', key: 'k', found: 'list' })).toEqual({
      status: 'wrong_type',
      key: 'k',
      found: 'list',
    });
  });
  it('an unknown status, an old array reply or a malformed one is SCRIPT_REPLY_INVALID', () => {
    for (const reply of [
      { status: 'OK', previous_owner: 'none' },
      { status: 'ok' },
      { status: 'ok', previous_owner: 'somebody' },
      { status: 'wrong_type', key: 'k' },
      { status: 'NO_HOLD' },
    ]) {
      expect(() => decode(reply), JSON.stringify(reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
    }
    for (const reply of [['OK', 'none'], ['NO_HOLD', ''], 'OK', null]) {
      expect(() => decodeReply(manualHold, reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
    }
  });
});
