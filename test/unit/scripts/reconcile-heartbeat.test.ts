/** reconcile_heartbeat: encode and decode, no Redis (node-redis' pure half of a command spec). */
import { describe, expect, it } from 'vitest';
import { buildKeys } from '../../../src/redis/keys.js';
import { reconcileHeartbeat } from '../../../src/redis/scripts/reconcile-heartbeat.js';
import { commandArgs, decodeReply } from '../../../src/redis/scripts/script.js';

const keys = buildKeys('q');
const decode = (reply: unknown) => decodeReply(reconcileHeartbeat, JSON.stringify(reply));
const usage: unknown = expect.objectContaining({ code: 'USAGE' });

describe('reconcile_heartbeat encode', () => {
  it('the heartbeat key, then the reconcile fence; epoch, value and TTL in the one ARGV object', () => {
    const call = reconcileHeartbeat.encode({
      keys,
      epoch: 1_767_225_600_001,
      value: '{"ts_ms":1}',
      ttlMs: 5000.4,
    });
    expect(call.keys).toEqual(['q:reconcile:heartbeat', 'q:posguard:fence:reconcile']);
    expect(call.argv).toEqual({ epoch: 1_767_225_600_001, value: '{"ts_ms":1}', ttl_ms: 5000 });
    expect(commandArgs(reconcileHeartbeat, call)).toEqual([
      ...call.keys,
      JSON.stringify(call.argv),
    ]);
  });

  it('refuses a writer without a valid epoch, and a TTL that is not positive', () => {
    const base = { keys, epoch: 5, value: '{}', ttlMs: 5000 };
    for (const epoch of [0, -1, 1.5, Number.NaN, 2 ** 53])
      expect(() => reconcileHeartbeat.encode({ ...base, epoch })).toThrow(usage);
    for (const ttlMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => reconcileHeartbeat.encode({ ...base, ttlMs })).toThrow(usage);
    expect(reconcileHeartbeat.encode({ ...base, ttlMs: 0.2 }).argv.ttl_ms).toBe(1);
  });
});

describe('reconcile_heartbeat decode', () => {
  it('written, fenced (fence null = missing or unreadable), wrong_type', () => {
    expect(decode({ status: 'written' })).toEqual({ status: 'written' });
    expect(decode({ status: 'fenced', fence: 9, epoch: 8 })).toEqual({
      status: 'fenced',
      fence: 9,
      epoch: 8,
    });
    expect(decode({ status: 'fenced', fence: null, epoch: 8 })).toEqual({
      status: 'fenced',
      fence: null,
      epoch: 8,
    });
    expect(decode({ status: 'wrong_type', key: 'q:reconcile:heartbeat', found: 'hash' })).toEqual({
      status: 'wrong_type',
      key: 'q:reconcile:heartbeat',
      found: 'hash',
    });
  });

  it('an unknown status or a malformed refusal is SCRIPT_REPLY_INVALID', () => {
    for (const reply of [
      { status: 'ok' },
      { status: 'fenced', fence: '9', epoch: 8 },
      { status: 'fenced', fence: 9 },
      { status: 'wrong_type', key: 'k' },
    ])
      expect(() => decode(reply), JSON.stringify(reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
    expect(() => decodeReply(reconcileHeartbeat, 'OK')).toThrow(
      expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
    );
  });
});
