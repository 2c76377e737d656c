/**
 * Measurements, not assertions of speed (the machine is shared): skipped unless
 * RECONCILE_BENCH=1.
 *
 *   RECONCILE_BENCH=1 npx vitest run test/reconcile/cycle.bench.test.ts
 *
 * One engine cycle (pipelined reads of every symbol + the evidence poll, decisions, one
 * pipelined write of every symbol's commit script and the heartbeat) for 1 000 and 10 000
 * symbols on a private redis-server. Symbols: 90 % OK, 5 % holding on a drift without
 * evidence, 5 % side mismatches. Also reports Redis commands per cycle (INFO
 * total_commands_processed delta) to show the work is per symbol while the round trips
 * are not.
 */
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { encodeLotSize } from '../../src/domain/lot-size.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ReconcileEngine } from '../../src/reconcile/engine.js';
import { createReconcileMetrics } from '../../src/reconcile/metrics.js';
import { startEmbeddedRedis } from '../../src/redis/embedded-server.js';
import { buildKeys } from '../../src/redis/keys.js';
import { BTC_LOT, T0, ledgerFields, snapshotFields } from './fixtures.js';
import { ManualClock } from './harness.js';

const CYCLES = 10;

function symbols(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `S${String(i).padStart(5, '0')}USDT`);
}

async function seed(redis: Redis, prefix: string, syms: string[]): Promise<void> {
  const keys = buildKeys(prefix);
  for (let start = 0; start < syms.length; start += 1000) {
    const pipeline = redis.pipeline();
    syms.slice(start, start + 1000).forEach((sym, k) => {
      const i = start + k;
      const ledger = i % 20 === 0 ? '0.05' : i % 20 === 1 ? '-0.062' : '0.062';
      pipeline.hset(keys.snapshot(sym), snapshotFields('0.062', T0 - 500));
      pipeline.hset(keys.ledger(sym), ledgerFields(ledger, T0 - 60_000));
      pipeline.hset(keys.symbolLotSize(sym), encodeLotSize(BTC_LOT, T0));
    });
    await pipeline.exec();
  }
}

async function commandsProcessed(redis: Redis): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? NaN);
}

function stats(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN;
  return `p50=${at(0.5).toFixed(1)} ms p90=${at(0.9).toFixed(1)} ms max=${(sorted.at(-1) ?? NaN).toFixed(1)} ms`;
}

describe.skipIf(!process.env.RECONCILE_BENCH)('reconcile cycle measurements', () => {
  for (const n of [1000, 10_000]) {
    it(`one cycle for ${n} symbols`, async () => {
      const server = await startEmbeddedRedis();
      const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
      try {
        const syms = symbols(n);
        await seed(redis, 'bench', syms);
        const config = loadConfig({
          REDIS_URL: server.url,
          KEY_PREFIX: 'bench',
          P34_ALLOWLIST: syms.join(','),
        });
        const clock = new ManualClock(T0);
        const engine = new ReconcileEngine({
          redis,
          keys: buildKeys('bench'),
          reconcile: config.reconcile,
          ledger: config.ledger,
          clock,
          logger: silentLogger(),
          metrics: createReconcileMetrics(),
        });
        await engine.runOnce(); // warm-up: first cycle writes every state hash and the holds
        const durations: number[] = [];
        const before = await commandsProcessed(redis);
        for (let i = 0; i < CYCLES; i += 1) {
          clock.advance(100);
          const started = performance.now();
          const report = await engine.runOnce();
          durations.push(performance.now() - started);
          expect(report.outcomes).toHaveLength(n);
        }
        const perCycle = ((await commandsProcessed(redis)) - before - 1) / CYCLES;
        const statuses = new Map<string, number>();
        for (const o of (await engine.runOnce({ dryRun: true })).outcomes) {
          statuses.set(o.decision.status, (statuses.get(o.decision.status) ?? 0) + 1);
        }
        console.log(
          `[reconcile bench] symbols=${n} cycles=${CYCLES} ${stats(durations)} ` +
            `redis_commands_per_cycle=${perCycle.toFixed(0)} statuses=${JSON.stringify(Object.fromEntries(statuses))}`,
        );
      } finally {
        redis.disconnect();
        await server.stop();
      }
    }, 300_000);
  }
});
