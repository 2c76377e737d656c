/**
 * The reader of instances, leases, epochs and fences (real Redis): records written by the
 * real presence writer and a lease taken by the real `lease_acquire` script read back as a
 * leader; keys of the wrong type and records that expire mid-read never fail the read.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InstancePresence } from '../../src/redis/ha/presence.js';
import {
  MAX_PRESENCE_RECORDS,
  readHaKeys,
  readHaState,
  scanPresenceKeys,
} from '../../src/redis/ha/instances-reader.js';
import { leaseAcquire } from '../../src/redis/scripts/lease-acquire.js';
import { runScript } from '../../src/redis/scripts/script.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';

let t: TestRedis;
const CLOCK = (): { leaseMs: number; nowMs: number } => ({ leaseMs: 3000, nowMs: Date.now() });
beforeEach(() => {
  t = openTestRedis('hareader');
});
afterEach(() => t.close());

const presence = (id: string): InstancePresence =>
  new InstancePresence({
    redis: t.redis,
    keys: t.keys,
    service: 'reconcile',
    instanceId: id,
    roles: ['reconcile'],
    version: '0.1.0',
    startedMs: 1_767_000_000_000,
    ttlMs: 9000,
  });

describe('readHaState (real Redis)', () => {
  it('null when no record, lease, epoch or fence exists (one instance per service)', async () => {
    await t.redis.set(t.keys.reconcileHeartbeat, '{}');
    expect(await readHaState(t.redis, t.keys, CLOCK())).toBeNull();
  });

  it('a lease taken by lease_acquire and the presence records read back as a leader', async () => {
    const acquired = await runScript(t.redis, leaseAcquire, {
      keys: t.keys,
      role: 'reconcile',
      instanceId: 'host-a:1',
      leaseMs: 3000,
    });
    if (acquired.status !== 'acquired') throw new Error(`not acquired: ${acquired.status}`);
    const { epoch } = acquired;
    await presence('host-a:1').write([{ role: 'reconcile', epoch }]);
    await presence('host-b:2').write([]);
    const state = await readHaState(t.redis, t.keys, CLOCK());
    expect(state?.findings).toEqual([]);
    expect(state?.instances.map((i) => [i.id, i.problem, i.record?.epoch])).toEqual([
      ['host-a:1', null, epoch],
      ['host-b:2', null, null],
    ]);
    const [reconcile, poller] = state?.roles ?? [];
    expect(reconcile).toMatchObject({
      state: 'leader',
      holder: 'host-a:1',
      epoch,
      fence: epoch,
      leader_epoch: epoch,
    });
    expect(reconcile?.lease_ttl_ms).toBeGreaterThan(0);
    expect(reconcile?.lease_ttl_ms).toBeLessThanOrEqual(3000);
    expect((reconcile?.lease_age_ms ?? -1) + (reconcile?.lease_ttl_ms ?? -1)).toBe(3000);
    expect(poller).toMatchObject({ role: 'brain-poller', state: 'none', campaigners: [] });
  });

  it('keys of the wrong type are reported by type, never thrown', async () => {
    await t.redis.hset(t.keys.instance('reconcile', 'host-c:3'), { id: 'host-c:3' });
    await t.redis.rpush(t.keys.lease('reconcile'), 'host-c:3');
    await t.redis.sadd(t.keys.fence('brain-poller'), '4');
    await t.redis.set(t.keys.epoch('reconcile'), 'seven');
    const read = await readHaKeys(t.redis, t.keys);
    expect(read.presence.map((p) => p.read)).toEqual([{ kind: 'wrong_type', found: 'hash' }]);
    expect(read.roles.map((r) => [r.lease.read, r.epoch.read, r.fence.read])).toEqual([
      [
        { kind: 'wrong_type', found: 'list' },
        { kind: 'string', value: 'seven', ttlMs: null },
        { kind: 'missing' },
      ],
      [{ kind: 'missing' }, { kind: 'missing' }, { kind: 'wrong_type', found: 'set' }],
    ]);
    const state = await readHaState(t.redis, t.keys, CLOCK());
    expect(state?.roles.map((r) => r.state)).toEqual(['problem', 'problem']);
  });

  it('SCAN is deduplicated and bounded: at most the limit, and says when there were more', async () => {
    for (let i = 0; i < 5; i += 1) await presence(`host-${i}:1`).write([]);
    await t.redis.set(`${t.prefix}:posguard:lease:other`, 'x'); // not a presence key
    const all = await scanPresenceKeys(t.redis, t.keys);
    expect(all).toEqual({
      keys: [0, 1, 2, 3, 4].map((i) => t.keys.instance('reconcile', `host-${i}:1`)),
      truncated: false,
    });
    const some = await scanPresenceKeys(t.redis, t.keys, 3);
    expect(some.keys).toHaveLength(3);
    expect(some.truncated).toBe(true);
    expect(MAX_PRESENCE_RECORDS).toBeGreaterThanOrEqual(100);
  });
});
