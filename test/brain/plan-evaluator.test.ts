import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import {
  PLAN_GROUP,
  PlanEvaluator,
  type PlanEvaluatorOptions,
} from '../../src/brain/plan-evaluator.js';
import { createBrainMetrics, type BrainMetrics } from '../../src/brain/metrics.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ensureGroup, readGroup } from '../../src/brain/stream-group.js';
import {
  TEST_RULES,
  addPlan,
  pendingCount,
  planFields,
  seedHealthy,
  waitForPermit,
  writeLedger,
  writeSnapshot,
} from './helpers.js';
import { systemClock } from '../../src/runtime/clock.js';
import { waitFor } from '../helpers/wait.js';

let t: TestRedis;
let reader: Redis;
let metrics: BrainMetrics;
const running: PlanEvaluator[] = [];

function evaluator(overrides: Partial<PlanEvaluatorOptions> = {}): PlanEvaluator {
  const e = new PlanEvaluator({
    reader,
    redis: t.redis,
    keys: t.keys,
    consumer: 'brain-a',
    allowlist: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'],
    rules: TEST_RULES,
    permitTtlSec: 60,
    planSeenTtlSec: 3600,
    clock: systemClock,
    metrics,
    logger: silentLogger(),
    blockMs: 100,
    ...overrides,
  });
  return e;
}

function start(e: PlanEvaluator): PlanEvaluator {
  running.push(e);
  e.start();
  return e;
}

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  const match = metric?.values.find((v) =>
    Object.entries(labels).every(([k, val]) => v.labels[k] === val),
  );
  return match?.value ?? 0;
}

/**
 * The counter once it reached `n`. The permit key is written by the script, the counters
 * after the batch's pipeline returns: read right after the permit appears, they can still
 * be behind (a race in the test, seen under load, not in the evaluator).
 */
async function counterAt(name: string, labels: Record<string, string>, n: number): Promise<number> {
  await waitFor(async () => ((await counter(name, labels)) >= n ? true : null)).catch(
    () => undefined,
  );
  return counter(name, labels);
}

beforeEach(() => {
  t = openTestRedis('pe');
  reader = new Redis(t.url, { maxRetriesPerRequest: 1 });
  metrics = createBrainMetrics();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
  reader.disconnect();
  await t.close();
});

describe('plan evaluator — the seed tests through Redis', () => {
  it('test 1: healthy position → ALLOW with safe_close_qty 0.028', async () => {
    await seedHealthy(t.redis, t.keys, 'BTCUSDT', '0.038');
    start(evaluator());
    await addPlan(t.redis, t.keys, 'p1', 'BTCUSDT');
    const permit = await waitForPermit(t.redis, t.keys, 'p1');
    expect(permit).toMatchObject({
      plan_id: 'p1',
      symbol: 'BTCUSDT',
      allow: true,
      safe_close_qty: 0.028,
      exchange_position_amt: 0.038,
    });
    expect(await t.redis.get(t.keys.permitP33('p1'))).toContain('"safe_close_qty":0.028,');
    const ttl = await t.redis.pttl(t.keys.permitP33('p1'));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await counterAt('p33_permit_total', { symbol: 'BTCUSDT', decision: 'allow' }, 1)).toBe(
      1,
    );
  });

  it.each([
    [
      'test 2: stale snapshot',
      async () => writeSnapshot(t.redis, t.keys, 'BTCUSDT', '0.038', 15),
      'stale_exchange_state',
    ],
    [
      'test 3: no position',
      async () => {
        await writeSnapshot(t.redis, t.keys, 'BTCUSDT', '0');
        await writeLedger(t.redis, t.keys, 'BTCUSDT', '0');
      },
      'no_position',
    ],
    [
      'test 4: cooldown',
      async () => writeLedger(t.redis, t.keys, 'BTCUSDT', '0.038', { lastOrderAgoSec: 5 }),
      'cooldown_in_flight',
    ],
    [
      'test 5: qty mismatch',
      async () => writeLedger(t.redis, t.keys, 'BTCUSDT', '0.035'),
      'reconcile_required_qty_mismatch',
    ],
    [
      'hold',
      async () => {
        await t.redis.set(t.keys.hold('BTCUSDT'), '1', 'EX', 60);
      },
      'reconcile_hold_active',
    ],
    [
      'engine down',
      async () => {
        await t.redis.del(t.keys.reconcileHeartbeat);
      },
      'reconcile_engine_down',
    ],
    [
      'no lot size',
      async () => {
        await t.redis.del(t.keys.symbolLotSize('BTCUSDT'));
      },
      'unknown_lot_size',
    ],
    [
      'snapshot key of the wrong type (LESSONS #18)',
      async () => {
        await t.redis.del(t.keys.snapshot('BTCUSDT'));
        await t.redis.set(t.keys.snapshot('BTCUSDT'), 'x');
      },
      'no_exchange_snapshot',
    ],
    [
      'ledger key of the wrong type',
      async () => {
        await t.redis.del(t.keys.ledger('BTCUSDT'));
        await t.redis.set(t.keys.ledger('BTCUSDT'), 'x');
      },
      'ledger_invalid',
    ],
  ] as const)('%s → %s', async (_name, breakIt, reason) => {
    await seedHealthy(t.redis, t.keys, 'BTCUSDT', '0.038');
    await breakIt();
    start(evaluator());
    await addPlan(t.redis, t.keys, 'p1', 'BTCUSDT');
    const permit = await waitForPermit(t.redis, t.keys, 'p1');
    expect(permit).toMatchObject({ plan_id: 'p1', allow: false, reason });
    expect(await counterAt('p33_permit_deny_total', { symbol: 'BTCUSDT', reason }, 1)).toBe(1);
  });

  it('a SHORT position keeps its sign in the permit', async () => {
    await seedHealthy(t.redis, t.keys, 'ETHUSDT', '-2.5');
    start(evaluator());
    await addPlan(t.redis, t.keys, 'short-1', 'ETHUSDT', { action: 'PARTIAL_50' });
    expect(await waitForPermit(t.redis, t.keys, 'short-1')).toMatchObject({
      allow: true,
      safe_close_qty: 1.25,
      exchange_position_amt: -2.5,
      ledger_position_amt: -2.5,
    });
  });

  it('an unknown action is denied, never a full close (LESSONS #12)', async () => {
    await seedHealthy(t.redis, t.keys, 'BTCUSDT', '0.038');
    start(evaluator());
    await addPlan(t.redis, t.keys, 'u1', 'BTCUSDT', { action: 'CLOSE_EVERYTHING_NOW' });
    const permit = await waitForPermit(t.redis, t.keys, 'u1');
    expect(permit).toMatchObject({ allow: false, reason: 'unknown_action' });
    expect(permit).not.toHaveProperty('safe_close_qty');
  });

  it('plans older than P33_PLAN_MAX_AGE_SEC are denied plan_expired (from the plan ts or the stream id)', async () => {
    await seedHealthy(t.redis, t.keys, 'BTCUSDT', '0.038');
    await t.redis.xadd(
      t.keys.applyPlanStream,
      `${Date.now() - 40_000}-0`,
      ...planFields('old-by-id', 'BTCUSDT'),
    );
    await addPlan(t.redis, t.keys, 'old-by-ts', 'BTCUSDT', {
      timestamp: String(Math.floor(Date.now() / 1000) - 45),
    });
    start(evaluator());
    expect(await waitForPermit(t.redis, t.keys, 'old-by-id')).toMatchObject({
      allow: false,
      reason: 'plan_expired',
    });
    expect(await waitForPermit(t.redis, t.keys, 'old-by-ts')).toMatchObject({
      allow: false,
      reason: 'plan_expired',
    });
  });

  it('an evaluation that throws yields an internal_error deny (LESSONS #13)', async () => {
    await seedHealthy(t.redis, t.keys, 'BTCUSDT', '0.038');
    start(
      evaluator({
        evaluate: () => {
          throw new TypeError("Cannot read properties of undefined (reading 'amount')");
        },
      }),
    );
    await addPlan(t.redis, t.keys, 'boom', 'BTCUSDT');
    const permit = await waitForPermit(t.redis, t.keys, 'boom');
    expect(permit).toMatchObject({ allow: false, reason: 'internal_error' });
    expect(JSON.stringify(permit.details)).toContain('reading');
  });

  it('acks non-EXECUTE plans and bad input without a permit, counting bad input', async () => {
    await seedHealthy(t.redis, t.keys, 'BTCUSDT', '0.038');
    start(evaluator());
    await t.redis.xadd(
      t.keys.applyPlanStream,
      '*',
      'plan_id',
      'skip-1',
      'symbol',
      'BTCUSDT',
      'decision',
      'SKIP',
      'action',
      'FULL_CLOSE',
    );
    await t.redis.xadd(
      t.keys.applyPlanStream,
      '*',
      'symbol',
      'BTCUSDT',
      'decision',
      'EXECUTE',
      'action',
      'FULL_CLOSE',
    );
    await t.redis.xadd(t.keys.applyPlanStream, '*', 'plan_id', 'bad id!', 'decision', 'EXECUTE');
    await addPlan(t.redis, t.keys, 'after', 'BTCUSDT');
    await waitForPermit(t.redis, t.keys, 'after');
    expect(await t.redis.get(t.keys.permitP33('skip-1'))).toBeNull();
    expect(await t.redis.exists(t.keys.planSeen('skip-1'))).toBe(0);
    expect(await pendingCount(t.redis, t.keys.applyPlanStream, PLAN_GROUP)).toBe(0);
    expect(await counter('p33_bad_input_total', { stream: 'apply.plan' })).toBe(2);
  });
});

describe('plan evaluator — exactly one permit per plan id', () => {
  it('a plan redelivered after its permit was consumed never yields a second ALLOW (LESSONS #4, #11)', async () => {
    await seedHealthy(t.redis, t.keys, 'BTCUSDT', '0.038');
    const e = evaluator();
    const id = await addPlan(t.redis, t.keys, 'once', 'BTCUSDT');
    await ensureGroup(t.redis, t.keys.applyPlanStream, PLAN_GROUP, '0');
    const entries = await readGroup(t.redis, {
      stream: t.keys.applyPlanStream,
      group: PLAN_GROUP,
      consumer: 'brain-a',
      count: 10,
      id: '>',
    });
    expect(entries.map((x) => x.id)).toEqual([id]);
    await e.handleBatch(entries);
    expect(await t.redis.get(t.keys.permitP33('once'))).toContain('"allow":true');
    // The Apply Layer consumes the permit...
    await t.redis.del(t.keys.permitP33('once'));
    // ...then the same entry is redelivered (crash before the reply was seen, pending re-read)...
    await e.handleBatch(entries);
    // ...and the planner re-sends the same plan id in a new entry.
    await addPlan(t.redis, t.keys, 'once', 'BTCUSDT');
    start(e);
    await addPlan(t.redis, t.keys, 'marker', 'BTCUSDT');
    await waitForPermit(t.redis, t.keys, 'marker');
    expect(await t.redis.get(t.keys.permitP33('once'))).toBeNull();
    expect(await counterAt('p33_permit_total', { symbol: 'BTCUSDT', decision: 'allow' }, 2)).toBe(
      2,
    ); // 'once' + 'marker'
    expect(await pendingCount(t.redis, t.keys.applyPlanStream, PLAN_GROUP)).toBe(0);
  });

  it('entries left pending by a dead consumer are claimed and answered once', async () => {
    await seedHealthy(t.redis, t.keys, 'BTCUSDT', '0.038');
    await ensureGroup(t.redis, t.keys.applyPlanStream, PLAN_GROUP, '0');
    await addPlan(t.redis, t.keys, 'orphan', 'BTCUSDT');
    const taken = await readGroup(t.redis, {
      stream: t.keys.applyPlanStream,
      group: PLAN_GROUP,
      consumer: 'dead-brain',
      count: 10,
      id: '>',
    });
    expect(taken).toHaveLength(1);
    start(evaluator({ claimIdleMs: 50, claimEveryMs: 100 }));
    expect(await waitForPermit(t.redis, t.keys, 'orphan')).toMatchObject({ allow: true });
    await waitFor(async () =>
      (await pendingCount(t.redis, t.keys.applyPlanStream, PLAN_GROUP)) === 0 ? true : null,
    );
  });

  it('own pending entries are re-evaluated on start from fresh reads, not from data seen before', async () => {
    await seedHealthy(t.redis, t.keys, 'BTCUSDT', '0.038');
    await ensureGroup(t.redis, t.keys.applyPlanStream, PLAN_GROUP, '0');
    await addPlan(t.redis, t.keys, 'inflight', 'BTCUSDT');
    // Read (as the crashed process did) while everything was healthy...
    await readGroup(t.redis, {
      stream: t.keys.applyPlanStream,
      group: PLAN_GROUP,
      consumer: 'brain-a',
      count: 10,
      id: '>',
    });
    // ...then the position changed before the permit was written.
    await writeSnapshot(t.redis, t.keys, 'BTCUSDT', '0.038', 25);
    start(evaluator());
    expect(await waitForPermit(t.redis, t.keys, 'inflight')).toMatchObject({
      allow: false,
      reason: 'stale_exchange_state',
    });
  });

  it('REDIS_MIN_REPLICAS_ACK=1 with no replica: permits written once, plans left pending and retried, the shortfall counted, the loop never fails', async () => {
    // The run's redis-server has no replica (a real one: test/integration/replica-ack.test.ts).
    await seedHealthy(t.redis, t.keys, 'BTCUSDT', '0.038');
    start(evaluator({ minReplicasAck: 1, replicaWaitMs: 20, claimIdleMs: 50, claimEveryMs: 100 }));
    await addPlan(t.redis, t.keys, 'w1', 'BTCUSDT');
    await addPlan(t.redis, t.keys, 'w2', 'BTCUSDT');
    await waitFor(async () =>
      (await counter('p33_permit_replication_shortfall_total', {})) >= 6 ? true : null,
    );
    expect(await pendingCount(t.redis, t.keys.applyPlanStream, PLAN_GROUP)).toBe(2);
    expect(await waitForPermit(t.redis, t.keys, 'w1')).toMatchObject({ allow: true });
    expect(await waitForPermit(t.redis, t.keys, 'w2')).toMatchObject({ allow: true });
    // the retries were answered `duplicate`: one permit per plan
    expect(await counter('p33_permit_total', { decision: 'allow' })).toBe(2);
    expect(await counter('p33_loop_errors_total', {})).toBe(0);
  });

  it('1 000 plans added in a burst get exactly 1 000 permits', async () => {
    await seedHealthy(t.redis, t.keys, 'BTCUSDT', '0.038');
    const e = start(evaluator());
    const pipeline = t.redis.pipeline();
    for (let i = 0; i < 1000; i += 1)
      pipeline.xadd(t.keys.applyPlanStream, '*', ...planFields(`burst-${i}`, 'BTCUSDT'));
    await pipeline.exec();
    await waitFor(
      async () =>
        (await counter('p33_permit_total', { symbol: 'BTCUSDT', decision: 'allow' })) >= 1000
          ? true
          : null,
      20_000,
      20,
    );
    const check = t.redis.pipeline();
    for (let i = 0; i < 1000; i += 1) check.get(t.keys.permitP33(`burst-${i}`));
    const permits = ((await check.exec()) ?? []).map(
      ([, v]) => JSON.parse(v as string) as { allow: boolean; plan_id: string },
    );
    expect(permits.filter((p) => p.allow)).toHaveLength(1000);
    expect(new Set(permits.map((p) => p.plan_id)).size).toBe(1000);
    // Stopped (the batch in hand finished): nothing more can be counted; exactly 1 000.
    await e.stop();
    expect(await counter('p33_permit_total', { symbol: 'BTCUSDT', decision: 'allow' })).toBe(1000);
    expect(await pendingCount(t.redis, t.keys.applyPlanStream, PLAN_GROUP)).toBe(0);
  });

  it('plans for 50 symbols interleaved each get their own symbol’s answer', async () => {
    const symbols = Array.from({ length: 50 }, (_, i) => `S${String(i).padStart(2, '0')}USDT`);
    for (const [i, symbol] of symbols.entries()) {
      await seedHealthy(t.redis, t.keys, symbol, i % 2 === 0 ? String(i + 1) : `-${i + 1}`);
    }
    // Every fifth symbol is held: its plans must be denied, the others allowed.
    for (const symbol of symbols.filter((_, i) => i % 5 === 0))
      await t.redis.set(t.keys.hold(symbol), '1', 'EX', 60);
    start(evaluator({ allowlist: symbols, count: 37 }));
    const pipeline = t.redis.pipeline();
    for (let round = 0; round < 4; round += 1) {
      for (const symbol of symbols)
        pipeline.xadd(
          t.keys.applyPlanStream,
          '*',
          ...planFields(`${symbol}-${round}`, symbol, { action: 'FULL_CLOSE' }),
        );
    }
    await pipeline.exec();
    for (const [i, symbol] of symbols.entries()) {
      for (let round = 0; round < 4; round += 1) {
        const permit = await waitForPermit(t.redis, t.keys, `${symbol}-${round}`);
        expect(permit.symbol).toBe(symbol);
        if (i % 5 === 0)
          expect(permit).toMatchObject({ allow: false, reason: 'reconcile_hold_active' });
        else
          expect(permit).toMatchObject({
            allow: true,
            safe_close_qty: i + 1,
            exchange_position_amt: i % 2 === 0 ? i + 1 : -(i + 1),
          });
      }
    }
  });
});
