/** manual_ledger: encode and decode, no Redis (node-redis' pure half of a command spec). */
import { describe, expect, it } from 'vitest';
import { buildKeys } from '../../../src/redis/keys.js';
import { manualLedger } from '../../../src/redis/scripts/manual-ledger.js';
import { commandArgs, decodeReply } from '../../../src/redis/scripts/script.js';

const keys = buildKeys('q');

describe('manual_ledger encode', () => {
  it('ledger and events stream in KEYS; one JSON object as ARGV (ledger fields as an object, event fields in order)', () => {
    const call = manualLedger.encode({
      keys,
      symbol: 'ETHUSDT',
      expectedVersion: '',
      ledger: { ledger_amt: '0.062', version: '1', source: 'p34_manual' },
      ledgerTtlMs: 86_400_000.2,
      eventsMaxlen: 10_000,
      event: ['event', 'MANUAL_LEDGER_SET', 'symbol', 'ETHUSDT'],
    });
    expect(call.keys).toEqual(['q:position:ledger:ETHUSDT', 'q:stream:reconcile.events']);
    expect(call.argv).toEqual({
      expect_version: '',
      ledger: { ledger_amt: '0.062', version: '1', source: 'p34_manual' },
      ledger_ttl_ms: 86_400_000,
      events_maxlen: 10_000,
      event: ['event', 'MANUAL_LEDGER_SET', 'symbol', 'ETHUSDT'],
    });
    expect(commandArgs(manualLedger, call)).toEqual([...call.keys, JSON.stringify(call.argv)]);
  });
  it('refuses to build an invalid symbol into a key', () => {
    expect(() =>
      manualLedger.encode({
        keys,
        symbol: 'eth usdt',
        expectedVersion: '',
        ledger: {},
        ledgerTtlMs: 1,
        eventsMaxlen: 1,
        event: [],
      }),
    ).toThrow();
  });
});

describe('manual_ledger decode', () => {
  const decode = (reply: unknown) => decodeReply(manualLedger, JSON.stringify(reply));
  it('maps every status to its typed result', () => {
    expect(decode({ status: 'ok', version: '7' })).toEqual({ status: 'ok', version: '7' });
    expect(decode({ status: 'conflict', version: '' })).toEqual({
      status: 'conflict',
      version: '',
    });
    expect(decode({ status: 'wrong_type', key: 'k', found: 'string' })).toEqual({
      status: 'wrong_type',
      key: 'k',
      found: 'string',
    });
  });
  it('an unknown status, an old array reply or a malformed one is SCRIPT_REPLY_INVALID', () => {
    for (const reply of [
      { status: 'OK', version: '7' },
      { status: 'CONFLICT', version: '7' },
      { status: 'ok' },
      { status: 'conflict', version: 7 },
      { status: 'wrong_type', found: 'string' },
    ]) {
      expect(() => decode(reply), JSON.stringify(reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
    }
    for (const reply of [['OK', '7'], ['CONFLICT', ''], 'OK', null]) {
      expect(() => decodeReply(manualLedger, reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
    }
  });
});
