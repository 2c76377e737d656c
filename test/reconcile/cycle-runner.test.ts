/**
 * The cycle runner (src/reconcile/cycle-runner.ts): every cycle is timed, a failed one too
 * (the timer ends in `finally`), and a failed cycle is counted and never thrown. Real engine,
 * real Redis.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { CycleRunner } from '../../src/reconcile/cycle-runner.js';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import { T0, ledgerFields, snapshotFields, writeSymbol } from './fixtures.js';
import { ManualClock, makeEngine, metricValue } from './harness.js';

describe('cycle runner', () => {
  let t: TestRedis;
  beforeEach(() => {
    t = openTestRedis('cr');
  });
  afterEach(() => t.close());

  it('times every cycle, a failed one included; counts the failure and does not throw', async () => {
    const clock = new ManualClock(T0);
    await writeSymbol(t.redis, t.keys, 'BTCUSDT', {
      snapshot: snapshotFields('0.1', T0 - 500),
      ledger: ledgerFields('0.1', T0 - 60_000),
    });
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url });
    const runner = new CycleRunner(h.engine, t.redis, clock, h.metrics, silentLogger());
    const timed = async () => {
      const histogram = (await h.metrics.registry.getMetricsAsJSON()).find(
        (m) => m.name === 'p34_cycle_duration_seconds',
      );
      const values = (histogram?.values ?? []) as { metricName?: string; value: number }[];
      return values.find((v) => v.metricName === 'p34_cycle_duration_seconds_count')?.value;
    };
    expect(await runner.tick()).toBe(true);
    expect(await timed()).toBe(1);
    // The results stream holds a string: the cycle's evidence read fails (WRONGTYPE).
    await t.redis.set(t.keys.applyResultStream, 'not a stream');
    clock.advance(1000);
    expect(await runner.tick()).toBe(false);
    expect(await metricValue(h.metrics, 'p34_cycle_failures_total')).toBe(1);
    expect(await timed()).toBe(2);
  });
});
