/** gate_consume: encode and decode, no Redis (node-redis' pure half of a command spec). */
import { describe, expect, it } from 'vitest';
import { buildKeys } from '../../../src/redis/keys.js';
import { gateConsume } from '../../../src/redis/scripts/gate-consume.js';
import { commandArgs, decodeReply } from '../../../src/redis/scripts/script.js';

const PERMIT = '{"plan_id":"p1","symbol":"BTCUSDT","allow":true,"safe_close_qty":0.028}';

describe('gate_consume encode', () => {
  it('both permit keys in KEYS (the governor template applied), an empty JSON object as ARGV', () => {
    const call = gateConsume.encode({ keys: buildKeys('q'), planId: 'p1' });
    expect(call.keys).toEqual(['q:permit:governor:p1', 'q:permit:p33:p1']);
    expect(call.argv).toEqual({});
    expect(commandArgs(gateConsume, call)).toEqual([...call.keys, '{}']);
    const bare = gateConsume.encode({
      keys: buildKeys('q', '{prefix}:permit:{plan_id}'),
      planId: 'p1',
    });
    expect(bare.keys).toEqual(['q:permit:p1', 'q:permit:p33:p1']);
  });
  it('refuses to build an invalid plan id into a key', () => {
    expect(() => gateConsume.encode({ keys: buildKeys('q'), planId: 'p 1*' })).toThrow(
      /invalid plan id/,
    );
  });
});

describe('gate_consume decode', () => {
  const decode = (reply: unknown) => decodeReply(gateConsume, JSON.stringify(reply));

  it('maps every status to its typed result; the permit text comes back exactly as stored', () => {
    expect(decode({ status: 'consumed', permit: PERMIT })).toEqual({
      status: 'consumed',
      permitJson: PERMIT,
    });
    expect(decode({ status: 'missing_permit_or_redis' })).toEqual({
      status: 'missing_permit_or_redis',
    });
    expect(decode({ status: 'governor_denied', reason: 'not_granted' })).toEqual({
      status: 'governor_denied',
      reason: 'not_granted',
    });
    expect(decode({ status: 'missing_or_denied_p33_permit', reason: 'no_position' })).toEqual({
      status: 'missing_or_denied_p33_permit',
      reason: 'no_position',
    });
  });

  it('an unknown status, an old array reply or a malformed one is SCRIPT_REPLY_INVALID', () => {
    for (const reply of [
      { status: 'OK', permit: PERMIT },
      { status: 'consumed' },
      { status: 'consumed', permit: 5 },
      { status: 'governor_denied' },
      { status: 'missing_or_denied_p33_permit', reason: 1 },
      { status: 'NOPE', reason: 'x' },
    ]) {
      expect(() => decode(reply), JSON.stringify(reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
    }
    for (const reply of [['OK', PERMIT], ['missing_permit_or_redis', ''], 'OK', null]) {
      expect(() => decodeReply(gateConsume, reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
    }
  });
});
