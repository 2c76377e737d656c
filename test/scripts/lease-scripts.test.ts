/**
 * lease_acquire, lease_renew, lease_release and the fence check against a real Redis:
 * every status, "nothing written" checked as the DUMP and expiry of every key under the
 * test's prefix, wrong types, epochs that keep growing when Redis lost them (the server's
 * clock), and the NOSCRIPT path (SCRIPT FLUSH).
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { LeaderRole } from '../../src/domain/leadership.js';
import { leaseAcquire } from '../../src/redis/scripts/lease-acquire.js';
import { leaseRelease } from '../../src/redis/scripts/lease-release.js';
import { leaseRenew } from '../../src/redis/scripts/lease-renew.js';
import { queueScript, runScript, scriptPipeline } from '../../src/redis/scripts/script.js';
import { fixtureKeys, runFencedWrite } from '../ha/fenced-write.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { clearKeys, keyImage } from '../reconcile/key-image.js';

const ROLE: LeaderRole = 'reconcile';
const LEASE_MS = 60_000;

describe('lease scripts (real Redis)', () => {
  const t: TestRedis = openTestRedis('lease');
  afterAll(() => t.close());
  beforeEach(() => clearKeys(t));

  const acquire = (instanceId: string, leaseMs = LEASE_MS) =>
    runScript(t.redis, leaseAcquire, { keys: t.keys, role: ROLE, instanceId, leaseMs });
  const renew = (instanceId: string, epoch: number, leaseMs = LEASE_MS) =>
    runScript(t.redis, leaseRenew, { keys: t.keys, role: ROLE, instanceId, epoch, leaseMs });
  const release = (instanceId: string, epoch: number) =>
    runScript(t.redis, leaseRelease, { keys: t.keys, role: ROLE, instanceId, epoch });
  const lease = t.keys.lease(ROLE);
  const fence = t.keys.fence(ROLE);
  const epochKey = t.keys.epoch(ROLE);

  /** The epoch of an `acquired` reply (fails the test on anything else). */
  async function acquired(instanceId: string, leaseMs = LEASE_MS): Promise<number> {
    const reply = await acquire(instanceId, leaseMs);
    if (reply.status !== 'acquired') throw new Error(`not acquired: ${JSON.stringify(reply)}`);
    return reply.epoch;
  }

  /** Redis' clock in ms (TIME). */
  async function redisMs(): Promise<number> {
    const [sec, usec] = await t.redis.time();
    return Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
  }

  /** `run` must write nothing at all: every key's DUMP and expiry time stay the same. */
  async function writesNothing<R>(run: () => Promise<R>): Promise<R> {
    const before = await keyImage(t);
    const result = await run();
    expect(await keyImage(t)).toEqual(before);
    return result;
  }

  it('acquire: SET NX PX with the instance id, epoch and fence raised together (above the server clock); held for others', async () => {
    const before = await redisMs();
    const epoch = await acquired('a:1');
    expect(epoch).toBeGreaterThan(before);
    expect(epoch).toBeLessThanOrEqual((await redisMs()) + 1);
    expect(await t.redis.get(lease)).toBe('a:1');
    expect(await t.redis.pttl(lease)).toBeGreaterThan(LEASE_MS - 5_000);
    expect(await t.redis.mget(epochKey, fence)).toEqual([String(epoch), String(epoch)]);
    expect(await t.redis.pttl(fence)).toBe(-1);
    const held = await writesNothing(() => acquire('b:2'));
    expect(held).toMatchObject({ status: 'held', holder: 'a:1' });
    expect(held.status === 'held' && held.ttl_ms).toBeGreaterThan(LEASE_MS - 5_000);
  });

  it('acquire by the holder itself (its reply was lost) takes a new epoch that fences the old term', async () => {
    const first = await acquired('a:1');
    const second = await acquired('a:1');
    expect(second).toBeGreaterThan(first);
    expect(await writesNothing(() => renew('a:1', first))).toEqual({
      status: 'fenced',
      fence: second,
      epoch: first,
    });
    expect(await renew('a:1', second)).toEqual({ status: 'renewed' });
  });

  it('epochs strictly grow, also several acquisitions within one millisecond', async () => {
    const epochs: number[] = [];
    for (let i = 0; i < 20; i += 1) epochs.push(await acquired('a:1'));
    for (let i = 1; i < epochs.length; i += 1) expect(epochs[i]).toBeGreaterThan(epochs[i - 1]!);
  });

  it('epochs never go below the fence or the epoch counter, even when one of them was lost', async () => {
    // Both ahead of the clock (e.g. written by hand, or a burst of acquisitions).
    const ahead = (await redisMs()) + 1_000_000;
    await t.redis.set(fence, String(ahead));
    expect(await acquired('a:1')).toBe(ahead + 1);
    await t.redis.del(lease);
    await t.redis.set(epochKey, String(ahead + 50));
    await t.redis.del(fence);
    expect(await acquired('b:1')).toBe(ahead + 51);
    expect(await t.redis.mget(epochKey, fence)).toEqual([String(ahead + 51), String(ahead + 51)]);
  });

  it('epochs survive data loss: epoch and fence both gone (a failover to a replica that missed the acquisition, a restart without persistence) — the new epoch is still above the old, and the old leader is fenced', async () => {
    const old = await acquired('a:1');
    // A failover takes seconds; here at least until the server's clock passed the old epoch
    // (within the same millisecond the clock alone cannot tell two acquisitions apart).
    while ((await redisMs()) <= old) await new Promise((resolve) => setTimeout(resolve, 1));
    // The new master never saw a's acquisition (or came back empty).
    await t.redis.del(lease, epochKey, fence);
    const next = await acquired('b:2');
    expect(next).toBeGreaterThan(old);
    expect(await writesNothing(() => renew('a:1', old))).toEqual({
      status: 'fenced',
      fence: next,
      epoch: old,
    });
    // Epochs handed out before this scheme (small counters) stay below the clock too.
    await t.redis.del(lease);
    await t.redis.set(epochKey, '7');
    await t.redis.set(fence, '7');
    expect(await acquired('c:3')).toBeGreaterThan(next);
  });

  it('an epoch or fence of more than 14 digits is not an epoch (cjson keeps 14 significant digits): refused', async () => {
    for (const key of [epochKey, fence]) {
      await clearKeys(t);
      await t.redis.set(key, '123456789012345');
      expect(await writesNothing(() => acquire('a:1')), key).toEqual({
        status: 'wrong_type',
        key,
        found: 'string (not an epoch)',
      });
    }
    await clearKeys(t);
    await t.redis.set(fence, '99999999999990');
    expect(await acquired('a:1')).toBe(99_999_999_999_991);
    expect(await t.redis.get(fence)).toBe('99999999999991');
  });

  it('a lease without expiry is reported held with ttl_ms −1 (it blocks the role)', async () => {
    await t.redis.set(lease, 'ghost:1');
    expect(await writesNothing(() => acquire('a:1'))).toEqual({
      status: 'held',
      holder: 'ghost:1',
      ttl_ms: -1,
    });
  });

  it('renew: compare-and-renew resets the TTL only for the holder with the current epoch', async () => {
    const e = await acquired('a:1', 5_000);
    expect(await renew('a:1', e)).toEqual({ status: 'renewed' });
    expect(await t.redis.pttl(lease)).toBeGreaterThan(LEASE_MS - 5_000);
    expect(await t.redis.mget(epochKey, fence)).toEqual([String(e), String(e)]);
    // Someone else's lease: lost, nothing written.
    await t.redis.set(lease, 'b:2', 'PX', 5_000);
    expect(await writesNothing(() => renew('a:1', e))).toEqual({
      status: 'lost',
      holder: 'b:2',
      fence: e,
    });
    // The lease expired and nobody took it: lost, and the renew does not resurrect it.
    await t.redis.del(lease);
    expect(await writesNothing(() => renew('a:1', e))).toEqual({
      status: 'lost',
      holder: null,
      fence: e,
    });
    expect(await t.redis.exists(lease)).toBe(0);
  });

  it('renew after another instance acquired: fenced, the lease untouched', async () => {
    const a = await acquired('a:1');
    await t.redis.del(lease); // a's lease expired while it was paused
    const b = await acquired('b:2');
    expect(b).toBeGreaterThan(a);
    expect(await writesNothing(() => renew('a:1', a))).toEqual({
      status: 'fenced',
      fence: b,
      epoch: a,
    });
    expect(await t.redis.get(lease)).toBe('b:2');
  });

  it('a missing or unreadable fence fences every writer (fail closed); a fence that went backwards is lost', async () => {
    const e = await acquired('a:1');
    await t.redis.del(fence);
    expect(await writesNothing(() => renew('a:1', e))).toEqual({
      status: 'fenced',
      fence: null,
      epoch: e,
    });
    await t.redis.set(fence, '1.5');
    expect(await writesNothing(() => renew('a:1', e))).toEqual({
      status: 'fenced',
      fence: null,
      epoch: e,
    });
    await t.redis.set(fence, '0');
    expect(await writesNothing(() => renew('a:1', e))).toEqual({
      status: 'lost',
      holder: 'a:1',
      fence: 0,
    });
  });

  it('release: deletes only our own lease with the current epoch; the fence stays', async () => {
    const a = await acquired('a:1');
    expect(await writesNothing(() => release('b:2', a))).toEqual({
      status: 'not_holder',
      holder: 'a:1',
      fence: a,
    });
    expect(await release('a:1', a)).toEqual({ status: 'released' });
    expect(await t.redis.exists(lease)).toBe(0);
    expect(await t.redis.get(fence)).toBe(String(a));
    const b = await acquired('b:2');
    expect(b).toBeGreaterThan(a);
    expect(await writesNothing(() => release('a:1', a))).toEqual({
      status: 'fenced',
      fence: b,
      epoch: a,
    });
    expect(await t.redis.get(lease)).toBe('b:2');
  });

  it('wrong types: a typed refusal naming the key, checked before any write', async () => {
    const cases: [string, () => Promise<unknown>, string][] = [
      [lease, () => acquire('a:1'), 'list'],
      [epochKey, () => acquire('a:1'), 'list'],
      [fence, () => acquire('a:1'), 'list'],
      [lease, () => renew('a:1', 1), 'list'],
      [fence, () => renew('a:1', 1), 'list'],
      [lease, () => release('a:1', 1), 'list'],
      [fence, () => release('a:1', 1), 'list'],
    ];
    for (const [key, run, found] of cases) {
      await clearKeys(t);
      await t.redis.rpush(key, 'squatter');
      expect(await writesNothing(run), key).toEqual({ status: 'wrong_type', key, found });
    }
    for (const key of [epochKey, fence]) {
      await clearKeys(t);
      await t.redis.set(key, 'seven');
      expect(await writesNothing(() => acquire('a:1')), key).toEqual({
        status: 'wrong_type',
        key,
        found: 'string (not an epoch)',
      });
    }
  });

  it('after SCRIPT FLUSH: single calls and a pipelined renew still run (NOSCRIPT re-sent)', async () => {
    await t.redis.script('FLUSH');
    const e = await acquired('a:1');
    await t.redis.script('FLUSH');
    expect(await renew('a:1', e)).toEqual({ status: 'renewed' });
    await t.redis.script('FLUSH');
    const pipeline = scriptPipeline(t.redis, [leaseRenew, leaseRelease]);
    const replies: unknown[] = [];
    const args = { keys: t.keys, role: ROLE, instanceId: 'a:1', epoch: e };
    queueScript(pipeline, leaseRenew, { ...args, leaseMs: LEASE_MS }, (e, r) =>
      replies.push(e ?? r),
    );
    queueScript(pipeline, leaseRelease, args, (e, r) => replies.push(e ?? r));
    await pipeline.exec();
    expect(replies).toEqual([{ status: 'renewed' }, { status: 'released' }]);
    await t.redis.script('FLUSH');
    expect(await release('a:1', e)).toMatchObject({ status: 'not_holder', holder: null });
  });
});

describe('the fence check in a role’s write script (test fixture, real Redis)', () => {
  const t: TestRedis = openTestRedis('fence');
  afterAll(() => t.close());
  beforeEach(() => clearKeys(t));

  const write = (epoch: number, writer: string) =>
    runFencedWrite(t.redis, {
      keys: t.keys,
      role: ROLE,
      epoch,
      writer,
      value: `${writer}@${epoch}`,
    });
  const acquire = async (instanceId: string): Promise<number> => {
    const reply = await runScript(t.redis, leaseAcquire, {
      keys: t.keys,
      role: ROLE,
      instanceId,
      leaseMs: LEASE_MS,
    });
    if (reply.status !== 'acquired') throw new Error(`not acquired: ${JSON.stringify(reply)}`);
    return reply.epoch;
  };

  it('the current epoch writes; an old epoch is refused `fenced` and none of the keys change', async () => {
    const a = await acquire('a:1');
    expect(await write(a, 'a:1')).toEqual({ status: 'written', fence: a });
    await t.redis.del(t.keys.lease(ROLE)); // a paused past its lease
    const b = await acquire('b:2');
    expect(await write(b, 'b:2')).toEqual({ status: 'written', fence: b });
    const before = await keyImage(t);
    const k = fixtureKeys(t.keys);
    expect(Object.keys(before)).toEqual(
      expect.arrayContaining([k.value, k.counts, k.log, t.keys.fence(ROLE)]),
    );
    expect(await write(a, 'a:1')).toEqual({ status: 'fenced', fence: b, epoch: a });
    expect(await keyImage(t)).toEqual(before);
    expect(await t.redis.get(k.value)).toBe(`b:2@${b}`);
    expect(await t.redis.hgetall(k.counts)).toEqual({ 'a:1': '1', 'b:2': '1' });
  });

  it('no fence at all: every write is refused (fence null), nothing created', async () => {
    expect(await write(5, 'a:1')).toEqual({ status: 'fenced', fence: null, epoch: 5 });
    expect(await keyImage(t)).toEqual({});
  });

  it('a wrong-typed key: refused before the fence check and before any write', async () => {
    const a = await acquire('a:1');
    const k = fixtureKeys(t.keys);
    await t.redis.set(k.log, 'not a stream');
    const before = await keyImage(t);
    expect(await write(a, 'a:1')).toEqual({ status: 'wrong_type', key: k.log, found: 'string' });
    expect(await keyImage(t)).toEqual(before);
  });
});
