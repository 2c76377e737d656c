/**
 * REDIS_MIN_REPLICAS_ACK (SPEC §11, issue 12) against the real Sentinel set-up
 * (src/dev/redis-sentinel.ts: a master, a replica, three sentinels). The replica is stopped
 * with SIGSTOP (`pause`) to hold replication back at will:
 *
 * - brain, N=1: a plan is acked only once the replica has its permit and marker (one WAIT
 *   per batch); the replica stopped → nothing acked, the shortfall counted and logged once,
 *   the plan pending; resumed → acked by the claim path, still one permit per plan; a
 *   failover then finds permit and marker on the new master;
 * - brain, N=0: no WAIT at all, the script acks as before;
 * - gate, N=1: a consume the replica does not confirm is `not_replicated` (the permit
 *   burned, no order), also when the WAIT had to be re-sent on a new connection;
 * - a failover that loses the writes the replica never got: at N=0 one plan's permit is
 *   consumed twice (two orders), at N=1 never.
 *
 * Timing is never asserted; waits poll with generous deadlines.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type RedisConfig } from '../../src/config/config.js';
import { startSentinelSetup, type SentinelSetup } from '../../src/dev/redis-sentinel.js';
import { createRedis, waitForReady } from '../../src/redis/connection.js';
import { buildKeys, type Keys } from '../../src/redis/keys.js';
import { createBrainMetrics, type BrainMetrics } from '../../src/brain/metrics.js';
import { PLAN_GROUP, PlanEvaluator } from '../../src/brain/plan-evaluator.js';
import { ensureGroup, readGroup, type StreamEntry } from '../../src/brain/stream-group.js';
import { consumePermits } from '../../src/gate/consume-permits.js';
import { systemClock } from '../../src/runtime/clock.js';
import { silentLogger, type Logger } from '../../src/observability/logger.js';
import { TEST_RULES, addPlan, seedHealthy } from '../brain/helpers.js';
import { captureLogs } from '../helpers/logs.js';
import { uniquePrefix } from '../helpers/redis.js';

const SYMBOL = 'BTCUSDT';
const GRANTED = JSON.stringify({ granted: true });

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (${last})`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('REDIS_MIN_REPLICAS_ACK with a real master and replica', () => {
  let setup: SentinelSetup | undefined;
  let config: RedisConfig;
  const clients: Redis[] = [];
  const evaluators: PlanEvaluator[] = [];

  const started = (): SentinelSetup => {
    if (setup === undefined) throw new Error('the set-up did not start');
    return setup;
  };
  /** A connection that follows the master through the sentinels, as the services make it. */
  const viaSentinel = async (name: string): Promise<Redis> => {
    const redis = createRedis(config, { name });
    redis.on('error', () => undefined);
    clients.push(redis);
    await waitForReady(redis);
    return redis;
  };
  /** A plain connection to one data node. */
  const direct = (port: number): Redis => {
    const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    clients.push(redis);
    return redis;
  };
  const master = async (): Promise<Redis> => direct((await started().masterAddress()).port);
  /** The data node that is the replica now, and its connection. */
  const replicaNode = async () => {
    const port = (await started().masterAddress()).port;
    const node = started().dataNodes.find((n) => n.port !== port);
    if (node === undefined) throw new Error('no replica');
    return node;
  };
  const waitCalls = async (redis: Redis): Promise<number> => {
    const stats = await redis.info('commandstats');
    return Number(/cmdstat_wait:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  };
  const pending = async (redis: Redis, keys: Keys): Promise<number> =>
    Number(((await redis.xpending(keys.applyPlanStream, PLAN_GROUP)) as [number])[0]);
  const counter = async (metrics: BrainMetrics, name: string): Promise<number> => {
    const metric = await metrics.registry.getSingleMetric(name)?.get();
    return metric?.values.reduce((sum, v) => sum + v.value, 0) ?? 0;
  };

  /** Plans added and replicated (the producer's own WAIT), the group created, healthy state. */
  async function seedPlans(redis: Redis, keys: Keys, planIds: string[]): Promise<void> {
    await seedHealthy(redis, keys, SYMBOL, '0.038');
    await ensureGroup(redis, keys.applyPlanStream, PLAN_GROUP, '0');
    for (const planId of planIds) await addPlan(redis, keys, planId, SYMBOL);
    expect(await redis.wait(1, 5000)).toBe(1);
  }
  /** Both permits of a plan, as the Governor and the brain write them, replicated. */
  async function permits(redis: Redis, keys: Keys, planId: string): Promise<void> {
    await redis.set(keys.permitGovernor(planId), GRANTED, 'EX', 60);
    await redis.set(
      keys.permitP33(planId),
      JSON.stringify({ plan_id: planId, symbol: SYMBOL, allow: true, safe_close_qty: 0.028 }),
      'EX',
      60,
    );
    expect(await redis.wait(1, 5000)).toBe(1);
  }
  async function deliver(redis: Redis, keys: Keys): Promise<StreamEntry[]> {
    return readGroup(redis, {
      stream: keys.applyPlanStream,
      group: PLAN_GROUP,
      consumer: 'brain-test',
      count: 100,
      id: '>',
    });
  }
  function evaluator(
    redis: Redis,
    keys: Keys,
    overrides: {
      minReplicasAck: number;
      replicaWaitMs?: number;
      metrics?: BrainMetrics;
      logger?: Logger;
      reader?: Redis;
    },
  ): PlanEvaluator {
    const e = new PlanEvaluator({
      reader: overrides.reader ?? redis,
      redis,
      keys,
      consumer: 'brain-test',
      allowlist: [SYMBOL],
      rules: TEST_RULES,
      permitTtlSec: 60,
      planSeenTtlSec: 3600,
      clock: systemClock,
      metrics: overrides.metrics ?? createBrainMetrics(),
      logger: overrides.logger ?? silentLogger(),
      blockMs: 100,
      claimIdleMs: 50,
      claimEveryMs: 100,
      minReplicasAck: overrides.minReplicasAck,
      ...(overrides.replicaWaitMs === undefined ? {} : { replicaWaitMs: overrides.replicaWaitMs }),
    });
    evaluators.push(e);
    return e;
  }

  beforeAll(async () => {
    setup = await startSentinelSetup({ masterName: 'posguard-ack' });
    config = loadConfig({
      REDIS_SENTINELS: setup.sentinelList,
      REDIS_SENTINEL_MASTER: 'posguard-ack',
    }).redis;
  }, 60_000);
  afterAll(async () => {
    await Promise.all(evaluators.map((e) => e.stop()));
    for (const client of clients) client.disconnect();
    await setup?.stop();
  }, 60_000);

  it('N=1: a batch is acked only once the replica has its permits and markers (one WAIT per batch); a failover then finds them on the new master', async () => {
    const keys = buildKeys(uniquePrefix('ack'));
    const redis = await viaSentinel('brain-a');
    const m = await master();
    await seedPlans(m, keys, ['a1', 'a2', 'a3']);
    const entries = await deliver(m, keys);
    expect(entries).toHaveLength(3);
    const replica = await replicaNode();
    const waitsBefore = await waitCalls(m);

    started().pause(replica);
    let done = false;
    const batch = evaluator(redis, keys, { minReplicasAck: 1, replicaWaitMs: 10_000 })
      .handleBatch(entries)
      .finally(() => {
        done = true;
      });
    try {
      // the permits are written on the master, and the batch waits for the replica
      await until('the permits on the master', async () =>
        (await m.exists(...['a1', 'a2', 'a3'].map((id) => keys.permitP33(id)))) === 3
          ? true
          : undefined,
      );
      await until('the batch to wait or finish', async () =>
        done || (await m.info('clients')).includes('blocked_clients:1') ? true : undefined,
      );
      expect(done).toBe(false);
      expect(await pending(m, keys)).toBe(3);
    } finally {
      started().resume(replica);
    }
    await batch;
    // acked as soon as the replica had them: it has them now, without waiting
    expect(await pending(m, keys)).toBe(0);
    const onReplica = direct(replica.port);
    for (const id of ['a1', 'a2', 'a3']) {
      expect(await onReplica.get(keys.permitP33(id))).toContain('"allow":true');
      expect(await onReplica.get(keys.planSeen(id))).toMatch(/^allow /);
    }
    expect((await waitCalls(m)) - waitsBefore).toBe(1);

    const promoted = await started().failover();
    const newMaster = direct(promoted.port);
    for (const id of ['a1', 'a2', 'a3']) {
      expect(await newMaster.get(keys.permitP33(id))).toContain('"allow":true');
      expect(await newMaster.get(keys.planSeen(id))).toMatch(/^allow /);
    }
    expect(await pending(newMaster, keys)).toBe(0);
  });

  it('N=1, replica stopped: nothing acked, the shortfall counted and logged once; resumed → acked by the claim path, one permit per plan', async () => {
    const keys = buildKeys(uniquePrefix('short'));
    const redis = await viaSentinel('brain-b');
    const reader = await viaSentinel('brain-b-reader');
    const m = await master();
    await seedPlans(m, keys, ['b1', 'b2']);
    const metrics = createBrainMetrics();
    const logs = captureLogs('info');
    const replica = await replicaNode();

    started().pause(replica);
    const e = evaluator(redis, keys, {
      minReplicasAck: 1,
      replicaWaitMs: 100,
      metrics,
      logger: logs.logger,
      reader,
    });
    try {
      e.start();
      // answered on the master, never acked while the replica cannot confirm it; retried
      await until('two shortfall rounds', async () =>
        (await counter(metrics, 'p33_permit_replication_shortfall_total')) >= 4 ? true : undefined,
      );
      expect(await pending(m, keys)).toBe(2);
      expect(await m.exists(keys.permitP33('b1'), keys.permitP33('b2'))).toBe(2);
    } finally {
      started().resume(replica);
    }
    await until('the plans acked', async () => ((await pending(m, keys)) === 0 ? true : undefined));
    await e.stop();
    // one permit per plan: the retries were duplicates
    expect(await counter(metrics, 'p33_permit_total')).toBe(2);
    expect(logs.matching('permit replication (WAIT 1 replicas, 100 ms) failing')).toHaveLength(1);
    expect(logs.matching('permit replication (WAIT 1 replicas, 100 ms) recovered')).toHaveLength(1);
    expect(logs.matching('plan already answered')).toHaveLength(2);
    const onReplica = direct(replica.port);
    expect(await onReplica.exists(keys.permitP33('b1'), keys.permitP33('b2'))).toBe(2);
  });

  // WAIT covers the writes up to the connection's offset. Redis 7.0 (run here) advances that
  // offset on every command; newer versions only on the connection's own propagated writes,
  // which is why a `duplicate` under ack=false rewrites its marker. Either way:
  it('N=1: a redelivery answered on another connection is not acked until the replica has its marker', async () => {
    const keys = buildKeys(uniquePrefix('dup'));
    const m = await master();
    await seedPlans(m, keys, ['c1']);
    const replica = await replicaNode();
    started().pause(replica);
    try {
      // the first answer: written by one connection, not confirmed in time
      const first = await viaSentinel('brain-c1');
      const entries = await deliver(m, keys);
      await evaluator(first, keys, { minReplicasAck: 1, replicaWaitMs: 100 }).handleBatch(entries);
      expect(await pending(m, keys)).toBe(1);
      // another instance (another connection, nothing written on it yet) gets the redelivery
      const second = await viaSentinel('brain-c2');
      const metrics = createBrainMetrics();
      await evaluator(second, keys, { minReplicasAck: 1, replicaWaitMs: 100, metrics }).handleBatch(
        entries,
      );
      expect(await counter(metrics, 'p33_permit_replication_shortfall_total')).toBe(1);
      expect(await counter(metrics, 'p33_permit_total')).toBe(0);
      expect(await pending(m, keys)).toBe(1);
    } finally {
      started().resume(replica);
    }
  });

  it('N=0: no WAIT is sent, the script acks even with the replica stopped (unchanged)', async () => {
    const keys = buildKeys(uniquePrefix('zero'));
    const redis = await viaSentinel('brain-d');
    const m = await master();
    await seedPlans(m, keys, ['d1', 'd2']);
    const entries = await deliver(m, keys);
    const replica = await replicaNode();
    const metrics = createBrainMetrics();
    const waitsBefore = await waitCalls(m);
    started().pause(replica);
    try {
      await evaluator(redis, keys, { minReplicasAck: 0, metrics }).handleBatch(entries);
      expect(await pending(m, keys)).toBe(0);
    } finally {
      started().resume(replica);
    }
    expect((await waitCalls(m)) - waitsBefore).toBe(0);
    expect(await counter(metrics, 'p33_permit_total')).toBe(2);
    expect(await counter(metrics, 'p33_permit_replication_shortfall_total')).toBe(0);
  });

  describe('the gate', () => {
    it('N=1: consumed and confirmed → ok; the replica stopped → not_replicated, the permit burned', async () => {
      const keys = buildKeys(uniquePrefix('gate'));
      const redis = await viaSentinel('gate-a');
      const m = await master();
      await permits(m, keys, 'g1');
      const gate = { waitMs: 0, minReplicasAck: 1, replicaWaitMs: 100 };
      expect(await consumePermits(redis, keys, 'g1', gate)).toMatchObject({
        ok: true,
        safeCloseQty: '0.028',
      });

      await permits(m, keys, 'g2');
      const replica = await replicaNode();
      started().pause(replica);
      try {
        const result = await consumePermits(redis, keys, 'g2', gate);
        expect(result).toMatchObject({ ok: false, code: 'not_replicated' });
        expect(!result.ok && result.detail).toMatch(/WAIT saw 0 of 1 replicas.*do not execute/);
        // burned: a second consume finds nothing
        expect(await m.exists(keys.permitP33('g2'), keys.permitGovernor('g2'))).toBe(0);
        expect(await consumePermits(redis, keys, 'g2', gate)).toMatchObject({
          ok: false,
          code: 'missing_permit_or_redis',
        });
      } finally {
        started().resume(replica);
      }
    });

    it('N=1: the connection drops while WAIT blocks (ioredis re-sends it) → not_replicated', async () => {
      const keys = buildKeys(uniquePrefix('gresend'));
      const m = await master();
      // the gate's own connection, re-sending unanswered commands after a reconnect
      const redis = direct((await started().masterAddress()).port);
      await redis.client('SETNAME', 'gate-resend');
      await permits(m, keys, 'r1');
      const replica = await replicaNode();
      started().pause(replica);
      try {
        const result = consumePermits(redis, keys, 'r1', {
          waitMs: 0,
          minReplicasAck: 1,
          replicaWaitMs: 5000,
        });
        // the consume went through; its WAIT blocks on the stopped replica: drop that connection
        await until('the gate blocked in WAIT', async () => {
          const list = String(await m.call('CLIENT', 'LIST', 'TYPE', 'normal'));
          return /name=gate-resend .*cmd=wait/.test(list) ? true : undefined;
        });
        await m.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
        expect(await result).toMatchObject({ ok: false, code: 'not_replicated' });
        expect(await m.exists(keys.permitP33('r1'))).toBe(0);
      } finally {
        started().resume(replica);
      }
    });
  });

  it('a failover that loses what the replica never got: at N=0 a permit is consumed twice (two orders), at N=1 never', async () => {
    // last: the old master is killed, so the set-up has no replica afterwards
    const orders = { 0: 0, 1: 0 };
    const prefix = uniquePrefix('lost');
    const keys = buildKeys(prefix);
    const m = await master();
    for (const n of [0, 1] as const) await permits(m, keys, `lost-${n}`);
    const gateConn = await viaSentinel('gate-lost');
    const replica = await replicaNode();

    started().pause(replica);
    let switched: Promise<unknown>;
    try {
      // A stopped replica still receives into its socket buffer: fill the buffers first, so
      // the consumes wait in the master's own output buffer and die with it.
      const filler = 'x'.repeat(20 * 1024 * 1024);
      for (const part of [1, 2]) await m.set(`${prefix}:filler:${part}`, filler);
      for (const n of [0, 1] as const) {
        const result = await consumePermits(gateConn, keys, `lost-${n}`, {
          waitMs: 0,
          minReplicasAck: n,
          replicaWaitMs: 100,
        });
        if (result.ok) orders[n] += 1;
      }
      switched = started().killMaster();
    } finally {
      started().resume(replica);
    }
    await switched;
    // the promoted replica never saw the consumes: both permits are back, unconsumed
    await until('the gate on the new master', async () =>
      (await gateConn.exists(keys.permitP33('lost-0'))) === 1 ? true : undefined,
    );
    for (const n of [0, 1] as const) {
      const result = await consumePermits(gateConn, keys, `lost-${n}`, {
        waitMs: 0,
        minReplicasAck: n,
        replicaWaitMs: 100,
      });
      if (result.ok) orders[n] += 1;
    }
    expect(orders[0]).toBe(2);
    expect(orders[1]).toBe(0);
  });
});
