/**
 * No partial truth from the engine (issue 10 item 7): a symbol whose commit fails (here its
 * state key holds a string) is named in the heartbeat of the very cycle that failed, and the
 * brain denies exactly that symbol `reconcile_engine_down` while the others keep their
 * permits. Real engine, real brain (plan evaluator), real Redis.
 */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBrainMetrics } from '../../src/brain/metrics.js';
import { PlanEvaluator } from '../../src/brain/plan-evaluator.js';
import { silentLogger } from '../../src/observability/logger.js';
import {
  SYSTEM_CLOCK,
  TEST_RULES,
  addPlan,
  waitForPermit,
  writeLedger,
  writeLotSize,
  writeSnapshot,
} from '../brain/helpers.js';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import { ManualClock, makeEngine, metricValue } from './harness.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];

describe('failing symbols in the heartbeat', () => {
  let t: TestRedis;
  let reader: Redis;
  let brain: PlanEvaluator | null = null;

  beforeEach(async () => {
    t = openTestRedis('fs');
    reader = new Redis(t.url, { maxRetriesPerRequest: 1 });
    for (const symbol of SYMBOLS) {
      await writeSnapshot(t.redis, t.keys, symbol, '0.038');
      await writeLedger(t.redis, t.keys, symbol, '0.038');
      await writeLotSize(t.redis, t.keys, symbol);
    }
  });
  afterEach(async () => {
    await brain?.stop();
    brain = null;
    reader.disconnect();
    await t.close();
  });

  function engine() {
    const clock = new ManualClock(Date.now());
    return makeEngine(t.redis, t.keys, clock, {
      url: t.url,
      env: { P34_ALLOWLIST: SYMBOLS.join(',') },
    });
  }

  async function heartbeat(): Promise<Record<string, unknown>> {
    const raw = await t.redis.get(t.keys.reconcileHeartbeat);
    expect(raw).not.toBeNull();
    return JSON.parse(raw ?? '{}') as Record<string, unknown>;
  }

  function startBrain(): PlanEvaluator {
    brain = new PlanEvaluator({
      reader,
      redis: t.redis,
      keys: t.keys,
      consumer: 'brain-fs',
      allowlist: SYMBOLS,
      rules: TEST_RULES,
      permitTtlSec: 60,
      planSeenTtlSec: 3600,
      clock: SYSTEM_CLOCK,
      metrics: createBrainMetrics(),
      logger: silentLogger(),
      blockMs: 100,
    });
    brain.start();
    return brain;
  }

  it('a symbol whose commit fails is named in the same cycle; the brain denies it alone', async () => {
    const h = engine();
    await t.redis.set(t.keys.reconcileState('BTCUSDT'), 'not a hash');
    await h.engine.runOnce();
    expect(await heartbeat()).toMatchObject({ failing_symbols: ['BTCUSDT'] });
    expect(await metricValue(h.metrics, 'p34_commit_error_total', { symbol: 'BTCUSDT' })).toBe(1);
    // The log names the refused key and its type (once per failing streak).
    const failed = h.lines.filter((l) => l.msg.startsWith('reconcile commit failed'));
    expect(failed).toHaveLength(1);
    expect(String(failed[0]?.problem)).toMatch(
      new RegExp(`^${t.keys.reconcileState('BTCUSDT')} is a string`),
    );

    startBrain();
    await addPlan(t.redis, t.keys, 'fs-btc-1', 'BTCUSDT');
    await addPlan(t.redis, t.keys, 'fs-eth-1', 'ETHUSDT');
    const btc = await waitForPermit(t.redis, t.keys, 'fs-btc-1');
    const eth = await waitForPermit(t.redis, t.keys, 'fs-eth-1');
    expect(btc).toMatchObject({ allow: false, reason: 'reconcile_engine_down' });
    expect(eth).toMatchObject({ allow: true });

    // The key is repaired: the next cycle's heartbeat no longer names the symbol.
    await t.redis.del(t.keys.reconcileState('BTCUSDT'));
    await h.engine.runOnce();
    expect(await heartbeat()).toMatchObject({ failing_symbols: [] });
    await addPlan(t.redis, t.keys, 'fs-btc-2', 'BTCUSDT');
    expect(await waitForPermit(t.redis, t.keys, 'fs-btc-2')).toMatchObject({ allow: true });
  });

  it('an OK symbol whose hold owner marker holds another type is not steady: its commit refuses, named like any failure (fail closed)', async () => {
    const h = engine();
    await h.engine.runOnce(); // both symbols OK, stored as OK: steady from now on
    expect(await heartbeat()).toMatchObject({ failing_symbols: [] });
    const marker = t.keys.holdOwner('BTCUSDT');
    await t.redis.sadd(marker, 'x');
    const report = await h.engine.runOnce();
    const btc = report.outcomes.find((o) => o.decision.symbol === 'BTCUSDT');
    expect(btc?.decision).toMatchObject({ status: 'OK', reason: '' });
    // An unreadable marker is not "no marker": the symbol goes through reconcile_commit,
    // which refuses the wrong-typed key and writes nothing for it.
    expect(btc?.reads.holdOwner).toBeUndefined();
    expect(btc?.commit).toEqual({ code: 'wrong_type', key: marker, found: 'set' });
    expect(await heartbeat()).toMatchObject({ failing_symbols: ['BTCUSDT'] });
    expect(await metricValue(h.metrics, 'p34_commit_error_total', { symbol: 'BTCUSDT' })).toBe(1);
    expect(report.outcomes.find((o) => o.decision.symbol === 'ETHUSDT')?.commit).toMatchObject({
      code: 'ok',
    });
  });

  it('a heartbeat the brain cannot read denies every symbol (it cannot tell which are live)', async () => {
    await t.redis.set(t.keys.reconcileHeartbeat, '{not json', 'PX', 60_000);
    startBrain();
    await addPlan(t.redis, t.keys, 'fs-eth-3', 'ETHUSDT');
    expect(await waitForPermit(t.redis, t.keys, 'fs-eth-3')).toMatchObject({
      allow: false,
      reason: 'reconcile_engine_down',
    });
  });
});
