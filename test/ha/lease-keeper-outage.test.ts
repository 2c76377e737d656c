/**
 * LeaseKeeper when Redis does not answer: a leader steps down at `sent + lease − margin`
 * on its own clock — while a renewal hangs (redis-server stopped with SIGSTOP), and
 * between rounds when renewals fail outright — never later. An acquire whose reply comes
 * too late leads nothing; the next round re-takes the lease with a new epoch.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/dev/redis-server.js';
import { waitForReady } from '../../src/redis/connection.js';
import { buildKeys } from '../../src/redis/keys.js';
import { nextTimer, testKeeper } from './keeper-harness.js';
import { uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const ROLE = 'reconcile' as const;
const LEASE_MS = 3000; // renew every 1000, margin 500: the deadline is 2500 after a send

describe('LeaseKeeper with Redis unreachable (own redis-server)', () => {
  let server: EmbeddedRedis;
  let stopped = false;
  const connections: Redis[] = [];

  beforeAll(async () => {
    server = await startEmbeddedRedis();
  });
  afterAll(async () => {
    if (stopped) process.kill(server.pid, 'SIGCONT');
    for (const c of connections) c.disconnect();
    await server.stop();
  });

  const connect = (options = {}): Redis => {
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1, ...options });
    connections.push(redis);
    return redis;
  };
  const pause = (): void => {
    process.kill(server.pid, 'SIGSTOP');
    stopped = true;
  };
  const resume = (): void => {
    process.kill(server.pid, 'SIGCONT');
    stopped = false;
  };

  it('a renewal that hangs: the leader steps down exactly at the deadline, not one ms later or earlier', async () => {
    const redis = connect();
    const a = testKeeper({
      redis,
      keys: buildKeys(uniquePrefix('hang')),
      id: 'a:1',
      leaseMs: LEASE_MS,
    });
    const t0 = a.clock.ms;
    await a.keeper.tick();
    const first = a.keeper.epochOf(ROLE)!;
    expect(first).toBeGreaterThan(0);
    a.clock.advance(1000);
    pause();
    try {
      const round = a.keeper.tick(); // the renewal is sent and never answered
      expect(await nextTimer(a.clock)).toBe(t0 + 2500);
      a.clock.advance(t0 + 2499 - a.clock.ms);
      expect(a.keeper.epochOf(ROLE)).toBe(first);
      expect(a.lost()).toEqual([]);
      a.clock.advance(1);
      await round;
      expect(a.keeper.epochOf(ROLE)).toBeNull();
      expect(a.lost()).toEqual([
        { kind: 'lost', role: ROLE, reason: 'expired', epoch: first, atMs: t0 + 2500 },
      ]);
    } finally {
      resume();
    }
    // The hung renewal's late answer changes nothing; the next round re-takes the lease.
    await redis.ping();
    expect(a.keeper.epochOf(ROLE)).toBeNull();
    a.clock.advance(500);
    await a.keeper.tick();
    const epochs = a.elected().map((e) => e.epoch);
    expect(epochs).toHaveLength(2);
    expect(epochs[0]).toBe(first);
    expect(epochs[1]).toBeGreaterThan(first);
  });

  it('started loop, renewals failing at once: errors at the rounds, onLost at the deadline between rounds', async () => {
    const redis = connect({ enableOfflineQueue: false });
    const a = testKeeper({
      redis,
      keys: buildKeys(uniquePrefix('fail')),
      id: 'a:1',
      leaseMs: LEASE_MS,
    });
    const t0 = a.clock.ms;
    await waitForReady(redis);
    void a.keeper.start();
    await waitFor(() => a.elected().length === 1);
    redis.disconnect(); // every command now fails at once with "Connection is closed"
    const asleepUntil = (dueMs: number) =>
      waitFor(() => a.clock.pending().join() === String(dueMs), 5_000, 1);
    await asleepUntil(t0 + 1000);
    a.clock.advance(1000); // round 1: the renewal fails
    await waitFor(() => a.errors().length === 1, 5_000, 1);
    await asleepUntil(t0 + 2000);
    a.clock.advance(1000); // round 2: fails too
    await waitFor(() => a.errors().length === 2, 5_000, 1);
    await asleepUntil(t0 + 2500); // the deadline comes before round 3
    const epoch = a.elected()[0]!.epoch;
    expect(a.keeper.epochOf(ROLE)).toBe(epoch);
    a.clock.advance(500);
    await waitFor(() => a.lost().length === 1, 5_000, 1);
    expect(a.errors().map((e) => e.atMs)).toEqual([t0 + 1000, t0 + 2000]);
    expect(a.lost()).toEqual([
      { kind: 'lost', role: ROLE, reason: 'expired', epoch, atMs: t0 + 2500 },
    ]);
    await asleepUntil(t0 + 3000); // and it goes on with its rounds, as a candidate
    await a.keeper.stop();
  });

  it('READONLY (its server became a replica): every lease is dropped at once, not kept until the deadline', async () => {
    const other = await startEmbeddedRedis();
    const redis = connect();
    const keys = buildKeys(uniquePrefix('ro'));
    const a = testKeeper({
      redis,
      keys,
      id: 'a:1',
      leaseMs: LEASE_MS,
      roles: ['reconcile', 'brain-poller'],
    });
    try {
      await a.keeper.tick();
      expect(a.keeper.leadership()).toHaveLength(2);
      await redis.call('REPLICAOF', '127.0.0.1', String(other.port));
      a.clock.advance(1000);
      await a.keeper.tick();
      // The first READONLY drops both roles; the other role's reply belongs to a dropped term.
      expect(a.errors().map((e) => e.code)).toEqual(['REDIS_READONLY']);
      expect(a.keeper.leadership()).toEqual([]);
      expect(a.lost().map((e) => [e.role, e.reason, e.atMs])).toEqual([
        ['reconcile', 'dropped', a.clock.ms],
        ['brain-poller', 'dropped', a.clock.ms],
      ]);
      await a.keeper.tick(); // still a replica: nobody is elected here
      expect(a.elected()).toHaveLength(2);
      expect(a.keeper.leadership()).toEqual([]);
    } finally {
      await redis.call('REPLICAOF', 'NO', 'ONE');
      await other.stop();
    }
  });

  it('an acquire answered after the deadline leads nothing; the next round re-takes the lease with a new epoch', async () => {
    const redis = connect();
    const keys = buildKeys(uniquePrefix('late'));
    const a = testKeeper({ redis, keys, id: 'a:1', leaseMs: 60_000 });
    await redis.ping();
    pause();
    let round: Promise<void>;
    try {
      round = a.keeper.tick();
      const due = await nextTimer(a.clock); // sent + lease − margin
      expect(due - a.clock.ms).toBe(50_000);
      a.clock.advance(due - a.clock.ms);
      await round;
    } finally {
      resume();
    }
    await waitFor(async () => (await redis.get(keys.lease(ROLE))) === 'a:1'); // it did land
    const late = Number(await redis.get(keys.fence(ROLE))); // the late acquire's epoch
    expect(a.elected()).toEqual([]);
    expect(a.keeper.epochOf(ROLE)).toBeNull();
    await a.keeper.tick();
    const epochs = a.elected().map((e) => e.epoch);
    expect(epochs).toHaveLength(1);
    expect(epochs[0]).toBeGreaterThan(late);
    expect(await redis.get(keys.fence(ROLE))).toBe(String(epochs[0]));
  });
});
