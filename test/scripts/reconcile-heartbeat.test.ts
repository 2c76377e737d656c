/**
 * reconcile_heartbeat against a real Redis: written with its TTL at the leader's epoch; the
 * fence (SPEC §11: nothing written below it, without it, with a garbage or wrong-typed one);
 * a heartbeat key of the wrong type; the NOSCRIPT path (SCRIPT FLUSH) in a single call and
 * inside a pipeline. Encode and decode without Redis: test/unit/scripts/reconcile-heartbeat.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reconcileHeartbeat } from '../../src/redis/scripts/reconcile-heartbeat.js';
import { queueScript, runScript, scriptPipeline } from '../../src/redis/scripts/script.js';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import { testTerm } from '../helpers/terms.js';
import { keyImage } from '../reconcile/key-image.js';
import { expectFencedEverywhere } from './fence-cases.js';

describe('reconcile_heartbeat (real Redis)', () => {
  let t: TestRedis;
  let epoch: number;
  beforeEach(async () => {
    t = openTestRedis('hb');
    epoch = (await testTerm(t.redis, t.keys, 'reconcile')).acquiredEpoch;
  });
  afterEach(() => t.close());

  const beat = (value: string, at = epoch, ttlMs = 5000) =>
    runScript(t.redis, reconcileHeartbeat, { keys: t.keys, epoch: at, value, ttlMs });

  it('written: SET value PX ttl at the leader’s epoch, overwriting the last one', async () => {
    expect(await beat('{"cycle":1}')).toEqual({ status: 'written' });
    expect(await beat('{"cycle":2}', epoch, 7000)).toEqual({ status: 'written' });
    expect(await t.redis.get(t.keys.reconcileHeartbeat)).toBe('{"cycle":2}');
    expect(await t.redis.pttl(t.keys.reconcileHeartbeat)).toBeGreaterThan(6000);
  });

  it('fenced: writes nothing below the fence, without a fence, with a garbage or wrong-typed one', async () => {
    await t.redis.set(t.keys.reconcileHeartbeat, '{"cycle":1,"instance":"test:old"}', 'PX', 60_000);
    await expectFencedEverywhere(t, 'reconcile', (e) => beat('{"cycle":2}', e));
    expect(await t.redis.get(t.keys.reconcileHeartbeat)).toBe('{"cycle":2}');
  });

  it('a heartbeat key of another type: refused and named, nothing written', async () => {
    await t.redis.hset(t.keys.reconcileHeartbeat, 'ts_ms', '1');
    const before = await keyImage(t);
    expect(await beat('{}')).toEqual({
      status: 'wrong_type',
      key: t.keys.reconcileHeartbeat,
      found: 'hash',
    });
    expect(await keyImage(t)).toEqual(before);
  });

  it('after SCRIPT FLUSH: a single call and a pipelined call still run (NOSCRIPT re-sent)', async () => {
    await t.redis.script('FLUSH');
    expect(await beat('{"cycle":1}')).toEqual({ status: 'written' });
    await t.redis.script('FLUSH');
    const pipeline = scriptPipeline(t.redis, [reconcileHeartbeat]);
    const replies: unknown[] = [];
    queueScript(
      pipeline,
      reconcileHeartbeat,
      { keys: t.keys, epoch, value: '{"cycle":2}', ttlMs: 5000 },
      (error, reply) => replies.push(error ?? reply),
    );
    await pipeline.exec();
    expect(replies).toEqual([{ status: 'written' }]);
    expect(await t.redis.get(t.keys.reconcileHeartbeat)).toBe('{"cycle":2}');
  });
});
