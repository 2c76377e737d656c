/**
 * Presence records written by the keeper (real Redis): the JSON a reader decodes, the
 * short TTL, refreshed every round with what the instance leads, deleted on stop — and
 * the HA reader (status, doctor, the web page) finds them under the keys this issue builds.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { decodePresence } from '../../src/domain/presence.js';
import { InstancePresence } from '../../src/redis/ha/presence.js';
import { readHaState } from '../../src/redis/ha/instances-reader.js';
import { testKeeper } from './keeper-harness.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';

describe('InstancePresence (real Redis)', () => {
  const t: TestRedis = openTestRedis('presence');
  afterAll(() => t.close());

  it('written every round with the roles led and their epochs, with a short TTL; removed on stop', async () => {
    const presence = (id: string) => (clock: { ms: number }) =>
      new InstancePresence({
        redis: t.redis,
        keys: t.keys,
        service: 'reconcile',
        instanceId: id,
        roles: ['reconcile'],
        version: '0.1.0',
        startedMs: clock.ms,
        ttlMs: 9_000,
      });
    const a = testKeeper({
      redis: t.redis,
      keys: t.keys,
      id: 'host-a:1',
      leaseMs: 3000,
      presence: presence('host-a:1'),
    });
    const b = testKeeper({
      redis: t.redis,
      keys: t.keys,
      id: 'host-b:2',
      leaseMs: 3000,
      presence: presence('host-b:2'),
    });
    await a.keeper.tick();
    await b.keeper.tick();
    const keyA = t.keys.instance('reconcile', 'host-a:1');
    expect(keyA).toBe(`${t.prefix}:posguard:instance:reconcile:host-a:1`);
    // Epochs follow Redis' clock (lease_acquire): the one handed out is the fence.
    const fence = Number(await t.redis.get(t.keys.fence('reconcile')));
    expect(decodePresence(await t.redis.get(keyA))).toEqual({
      ok: true,
      record: {
        service: 'reconcile',
        id: 'host-a:1',
        roles: ['reconcile'],
        version: '0.1.0',
        started_ms: 1_000_000,
        epoch: fence,
        leader_of: [{ role: 'reconcile', epoch: fence }],
      },
    });
    const pttl = await t.redis.pttl(keyA);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(9_000);
    const keyB = t.keys.instance('reconcile', 'host-b:2');
    expect(decodePresence(await t.redis.get(keyB))).toMatchObject({
      ok: true,
      record: { id: 'host-b:2', epoch: null, leader_of: [] },
    });

    const view = await readHaState(t.redis, t.keys, { leaseMs: 3000, nowMs: Date.now() });
    expect(view?.roles.find((r) => r.role === 'reconcile')).toMatchObject({
      state: 'leader',
      holder: 'host-a:1',
      leader_epoch: fence,
    });
    expect(
      view?.instances.map((i) => [i.service, i.id, i.record?.epoch ?? null, i.problem]),
    ).toEqual([
      ['reconcile', 'host-a:1', fence, null],
      ['reconcile', 'host-b:2', null, null],
    ]);

    await a.keeper.stop();
    expect(await t.redis.exists(keyA)).toBe(0);
    b.clock.advance(1000);
    await b.keeper.tick();
    const next = Number(await t.redis.get(t.keys.fence('reconcile')));
    expect(next).toBeGreaterThan(fence);
    expect(decodePresence(await t.redis.get(keyB))).toMatchObject({
      ok: true,
      record: { epoch: next, leader_of: [{ role: 'reconcile', epoch: next }] },
    });
    await b.keeper.stop();
    expect(await t.redis.exists(keyB)).toBe(0);
  });
});
