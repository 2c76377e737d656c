/**
 * gate_consume against a real Redis: every status through the spec (both permits consumed,
 * or nothing deleted), and the NOSCRIPT path (SCRIPT FLUSH) in a single call and inside a
 * pipeline. The gate's waiting and its permit forms are tested through consumePermits in
 * test/gate/consume-permits.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateReply, gateConsume } from '../../src/redis/scripts/gate-consume.js';
import {
  luaSource,
  queueScript,
  runScript,
  scriptPipeline,
} from '../../src/redis/scripts/script.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';

const GRANTED = '{"granted":true}';
const allow = (planId: string): string =>
  `{"plan_id":"${planId}","symbol":"BTCUSDT","allow":true,"safe_close_qty":0.100000000000000005551115123125}`;

describe('gate_consume (real Redis)', () => {
  let t: TestRedis;
  beforeAll(() => {
    t = openTestRedis('gcs');
  });
  afterAll(() => t.close());

  async function put(planId: string, governor: string | null, p33: string | null): Promise<void> {
    if (governor !== null) await t.redis.set(t.keys.permitGovernor(planId), governor, 'EX', 60);
    if (p33 !== null) await t.redis.set(t.keys.permitP33(planId), p33, 'EX', 60);
  }
  const left = (planId: string): Promise<number> =>
    t.redis.exists(t.keys.permitGovernor(planId), t.keys.permitP33(planId));
  const consume = (planId: string): Promise<GateReply> =>
    runScript(t.redis, gateConsume, { keys: t.keys, planId });

  it('consumed: both keys deleted, the P3.3 permit returned exactly as stored', async () => {
    await put('g1', GRANTED, allow('g1'));
    expect(await consume('g1')).toEqual({ status: 'consumed', permitJson: allow('g1') });
    expect(await left('g1')).toBe(0);
  });

  it('missing_permit_or_redis: no governor permit, the P3.3 permit stays', async () => {
    await put('g2', null, allow('g2'));
    expect(await consume('g2')).toEqual({ status: 'missing_permit_or_redis' });
    expect(await left('g2')).toBe(1);
  });

  it('governor_denied: not_granted, invalid, wrong_type — nothing deleted', async () => {
    await put('g3', '{"granted":false}', allow('g3'));
    expect(await consume('g3')).toEqual({ status: 'governor_denied', reason: 'not_granted' });
    await put('g4', '1', allow('g4'));
    expect(await consume('g4')).toEqual({ status: 'governor_denied', reason: 'invalid' });
    await t.redis.hset(t.keys.permitGovernor('g5'), 'granted', 'true');
    await put('g5', null, allow('g5'));
    expect(await consume('g5')).toEqual({ status: 'governor_denied', reason: 'wrong_type' });
    for (const id of ['g3', 'g4', 'g5']) expect(await left(id)).toBe(2);
  });

  it('missing_or_denied_p33_permit: missing, the deny reason, invalid, wrong_type — nothing deleted', async () => {
    await put('g6', GRANTED, null);
    expect(await consume('g6')).toEqual({
      status: 'missing_or_denied_p33_permit',
      reason: 'missing',
    });
    expect(await left('g6')).toBe(1);
    await put(
      'g7',
      GRANTED,
      '{"plan_id":"g7","symbol":"BTCUSDT","allow":false,"reason":"no_position"}',
    );
    expect(await consume('g7')).toEqual({
      status: 'missing_or_denied_p33_permit',
      reason: 'no_position',
    });
    await put('g8', GRANTED, '{"plan_id":"g8","symbol":"BTCUSDT","allow":true,"safe_close_qty":0}');
    expect(await consume('g8')).toEqual({
      status: 'missing_or_denied_p33_permit',
      reason: 'invalid',
    });
    await put('g9', GRANTED, null);
    await t.redis.hset(t.keys.permitP33('g9'), { allow: 'true', safe_close_qty: '1' });
    expect(await consume('g9')).toEqual({
      status: 'missing_or_denied_p33_permit',
      reason: 'wrong_type',
    });
    for (const id of ['g7', 'g8', 'g9']) expect(await left(id)).toBe(2);
  });

  it('ARGV that is not a JSON object is an error reply (a caller bug), nothing deleted', async () => {
    await put('g10', GRANTED, allow('g10'));
    const keys = [t.keys.permitGovernor('g10'), t.keys.permitP33('g10')];
    // The old contract (no ARGV) and ARGV that is not an object: refused, nothing consumed.
    for (const argv of [[], ['[1]'], ['"granted"'], ['not json']]) {
      const error = await t.redis
        .eval(luaSource('gate_consume'), 2, ...keys, ...argv)
        .catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/ARGV\[1\] must be a JSON object/);
    }
    expect(await left('g10')).toBe(2);
  });

  it('after SCRIPT FLUSH: a single call and a pipelined call both still run (NOSCRIPT re-sent)', async () => {
    await put('g11', GRANTED, allow('g11'));
    await t.redis.script('FLUSH');
    expect(await consume('g11')).toMatchObject({ status: 'consumed' });
    await put('g12', GRANTED, allow('g12'));
    await put('g13', GRANTED, null);
    await t.redis.script('FLUSH');
    const pipeline = scriptPipeline(t.redis, [gateConsume]);
    const replies: unknown[] = [];
    for (const planId of ['g12', 'g13'])
      queueScript(pipeline, gateConsume, { keys: t.keys, planId }, (error, reply) =>
        replies.push(error ?? reply),
      );
    await pipeline.exec();
    expect(replies).toEqual([
      { status: 'consumed', permitJson: allow('g12') },
      { status: 'missing_or_denied_p33_permit', reason: 'missing' },
    ]);
    expect(await left('g12')).toBe(0);
  });
});
