/**
 * Measurements, not assertions of speed (the machine is shared): skipped unless
 * BRAIN_BENCH=1.
 *
 *   BRAIN_BENCH=1 npx vitest run test/brain/latency.bench.test.ts
 *
 * 1. plan → permit latency: the whole brain service (venue over HTTP, polling 20
 *    symbols every second) on a private redis-server; 2 000 plans XADDed at a steady
 *    500/s; the time from just before XADD to the keyspace notification of the permit
 *    SET, seen by another client ("permit readable by another client").
 * 2. a 500-symbol poll: one positionRisk request + one pipelined write of 500 snapshots.
 */
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { performance } from 'node:perf_hooks';
import { API_KEY, API_SECRET, startRig } from '../exchange/helpers.js';
import { syntheticSymbols } from '../../src/dev/venue/venue.js';
import { loadConfig } from '../../src/config/config.js';
import { startBrain } from '../../src/brain/service.js';
import { SnapshotPoller } from '../../src/brain/snapshot-poller.js';
import { createBrainMetrics } from '../../src/brain/metrics.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startEmbeddedRedis } from '../../src/dev/redis-server.js';
import { buildKeys } from '../../src/redis/keys.js';
import { SYSTEM_CLOCK, planFields, seedHealthy, sleep, waitFor } from './helpers.js';
import { testTerm } from '../helpers/terms.js';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const f = (n: number) => n.toFixed(2);
  return `n=${sorted.length} p50=${f(percentile(sorted, 50))} ms p90=${f(percentile(sorted, 90))} ms p99=${f(percentile(sorted, 99))} ms max=${f(sorted.at(-1) ?? NaN)} ms`;
}

describe.skipIf(!process.env.BRAIN_BENCH)('brain measurements', () => {
  it('plan → permit latency, 2 000 plans at 500/s', async () => {
    const server = await startEmbeddedRedis();
    const symbols = syntheticSymbols(20);
    const rig = await startRig({ symbols });
    const prefix = 'bench';
    const keys = buildKeys(prefix);
    const writer = new Redis(server.url);
    const watcher = new Redis(server.url);
    await writer.config('SET', 'notify-keyspace-events', 'K$');
    for (const s of symbols) {
      rig.venue.control.setPosition(s, '5');
      await seedHealthy(writer, keys, s, '5');
    }
    const service = await startBrain({
      config: loadConfig({
        REDIS_URL: server.url,
        KEY_PREFIX: prefix,
        P33_ALLOWLIST: symbols.join(','),
        P33_POLL_SEC: '1',
        P33_COOLDOWN_SEC: '0',
        P33_METRICS_PORT: '0',
        BINANCE_BASE_URL: rig.venue.baseUrl,
        BINANCE_API_KEY: API_KEY,
        BINANCE_API_SECRET: API_SECRET,
      }),
      logger: silentLogger(),
      consumer: 'bench',
    });
    const sent = new Map<string, number>();
    const latencies: number[] = [];
    const allowed = { count: 0 };
    await watcher.psubscribe(`__keyspace@0__:${keys.permitP33('x').slice(0, -1)}*`);
    watcher.on('pmessage', (_pattern: string, channel: string, event: string) => {
      if (event !== 'set') return;
      const planId = channel.slice(channel.lastIndexOf(':') + 1);
      const t0 = sent.get(planId);
      if (t0 !== undefined) latencies.push(performance.now() - t0);
    });
    await sleep(1500); // first poll and lot sizes
    const total = 2000;
    const intervalMs = 2; // 500 plans/s
    const start = performance.now();
    for (let i = 0; i < total; i += 1) {
      const due = start + i * intervalMs;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const planId = `lat-${i}`;
      sent.set(planId, performance.now());
      await writer.xadd(
        keys.applyPlanStream,
        '*',
        ...planFields(planId, symbols[i % symbols.length]!, { action: 'PARTIAL_25' }),
      );
    }
    const elapsed = (performance.now() - start) / 1000;
    await waitFor(() => Promise.resolve(latencies.length >= total ? true : null), 30_000, 20);
    for (let i = 0; i < total; i += 10) {
      if ((await writer.get(keys.permitP33(`lat-${i}`)))?.includes('"allow":true'))
        allowed.count += 1;
    }
    console.log(
      `plan→permit latency (${(total / elapsed).toFixed(0)} plans/s sent): ${summary(latencies)}; sampled allows ${allowed.count}/${total / 10}`,
    );
    expect(latencies).toHaveLength(total);
    await service.stop();
    watcher.disconnect();
    writer.disconnect();
    await rig.venue.close();
    await server.stop();
  }, 120_000);

  it('a 500-symbol poll: one request, one pipeline', async () => {
    const server = await startEmbeddedRedis();
    const symbols = syntheticSymbols(500);
    const rig = await startRig({ symbols });
    symbols.forEach((s, i) => {
      if (i % 3 === 0) rig.venue.control.setPosition(s, i % 2 === 0 ? '1.5' : '-2');
    });
    const redis = new Redis(server.url);
    const keys = buildKeys('bench500');
    const metrics = createBrainMetrics();
    const poller = new SnapshotPoller({
      client: rig.client,
      redis,
      keys,
      term: await testTerm(redis, keys, 'brain-poller'),
      allowlist: symbols,
      pollSec: 60,
      snapshotTtlSec: 3600,
      clock: SYSTEM_CLOCK,
      metrics,
      logger: silentLogger(),
    });
    const durations: number[] = [];
    rig.venue.control.resetRequestCounts();
    for (let i = 0; i < 30; i += 1) {
      const t0 = performance.now();
      expect(await poller.pollOnce()).toBe('ok');
      durations.push(performance.now() - t0);
    }
    expect(rig.venue.control.requestCounts()).toEqual({ '/fapi/v2/positionRisk': 30 });
    expect(await redis.hget(keys.snapshot(symbols[3]!), 'position_amt')).toBe('-2');
    console.log(
      `500-symbol poll (positionRisk over HTTP + 500 snapshot writes): ${summary(durations)}`,
    );
    redis.disconnect();
    await rig.venue.close();
    await server.stop();
  }, 120_000);
});
