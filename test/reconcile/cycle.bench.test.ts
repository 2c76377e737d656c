/**
 * Measurements, not assertions of speed (the machine is shared): skipped unless
 * RECONCILE_BENCH=1.
 *
 *   RECONCILE_BENCH=1 npx vitest run test/reconcile/cycle.bench.test.ts
 *
 * One engine cycle (the read pipeline: evidence poll + one read call per 500 symbols; the
 * decisions; the write pipeline: steady batches, a commit script per other symbol, the
 * heartbeat) for 1 000, 10 000 and 50 000 symbols (RECONCILE_BENCH_SIZES=1000,10000 to
 * choose) on a private redis-server. Symbols: 90 % OK, 5 % holding on a drift without
 * evidence, 5 % side mismatches. Per cycle: wall time, engine CPU (process.cpuUsage),
 * Redis CPU (INFO cpu), round trips (socket writes of the engine's client), commands sent
 * by the client, and commands Redis executed (INFO total_commands_processed, commands run
 * inside scripts included).
 */
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { encodeLotSize } from '../../src/domain/lot-size.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ReconcileEngine } from '../../src/reconcile/engine.js';
import { createReconcileMetrics } from '../../src/reconcile/metrics.js';
import { startEmbeddedRedis } from '../../src/dev/redis-server.js';
import { buildKeys } from '../../src/redis/keys.js';
import { testTerm } from '../helpers/terms.js';
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

async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? NaN);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? NaN);
  return (user + sys) * 1000;
}

/** Counts the socket writes (= round trips for a client that awaits each batch) and commands. */
function tap(redis: Redis): { writes: number; commands: number } {
  const counts = { writes: 0, commands: 0 };
  const client = redis as unknown as { sendCommand: (...args: unknown[]) => unknown };
  const stream = (redis as unknown as { stream: { write: (...args: unknown[]) => boolean } })
    .stream;
  const send = client.sendCommand;
  const write = stream.write;
  client.sendCommand = function (this: unknown, ...args: unknown[]) {
    counts.commands += 1;
    return send.apply(this, args);
  };
  stream.write = function (this: unknown, ...args: unknown[]) {
    counts.writes += 1;
    return write.apply(this, args);
  };
  return counts;
}

function quantile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN;
}

function stats(ms: number[]): string {
  const max = Math.max(...ms);
  return `p50=${quantile(ms, 0.5).toFixed(1)} ms p90=${quantile(ms, 0.9).toFixed(1)} ms max=${max.toFixed(1)} ms`;
}

function range(values: number[]): string {
  const [min, max] = [Math.min(...values), Math.max(...values)];
  return min === max ? String(min) : `${min}-${max}`;
}

const SIZES = (process.env.RECONCILE_BENCH_SIZES ?? '1000,10000,50000').split(',').map(Number);

describe.skipIf(!process.env.RECONCILE_BENCH)('reconcile cycle measurements', () => {
  for (const n of SIZES) {
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
        const keys = buildKeys('bench');
        const term = await testTerm(redis, keys, 'reconcile', 'bench');
        const engine = new ReconcileEngine({
          redis,
          keys,
          reconcile: config.reconcile,
          ledger: config.ledger,
          clock,
          logger: silentLogger(),
          metrics: createReconcileMetrics(),
          term,
          instanceId: term.instanceId,
        });
        await engine.runOnce(); // warm-up: first cycle writes every state hash and the holds
        const durations: number[] = [];
        const cpu: number[] = [];
        const redisCpu: number[] = [];
        const trips: number[] = [];
        const sent: number[] = [];
        const executed: number[] = [];
        const counts = tap(redis);
        for (let i = 0; i < CYCLES; i += 1) {
          clock.advance(100);
          const [commands0, redisCpu0] = [await commandsProcessed(redis), await redisCpuMs(redis)];
          Object.assign(counts, { writes: 0, commands: 0 });
          const cpu0 = process.cpuUsage();
          const started = performance.now();
          const report = await engine.runOnce();
          durations.push(performance.now() - started);
          const used = process.cpuUsage(cpu0);
          cpu.push((used.user + used.system) / 1000);
          trips.push(counts.writes);
          sent.push(counts.commands);
          // INFO stats before the cycle and INFO cpu count themselves: minus 2
          executed.push((await commandsProcessed(redis)) - commands0 - 2);
          redisCpu.push((await redisCpuMs(redis)) - redisCpu0);
          expect(report.outcomes).toHaveLength(n);
        }
        const statuses = new Map<string, number>();
        for (const o of (await engine.runOnce({ dryRun: true })).outcomes) {
          statuses.set(o.decision.status, (statuses.get(o.decision.status) ?? 0) + 1);
        }
        console.log(
          `[reconcile bench] symbols=${n} cycles=${CYCLES} ${stats(durations)} ` +
            `cpu_p50=${quantile(cpu, 0.5).toFixed(1)} ms redis_cpu_p50=${quantile(redisCpu, 0.5).toFixed(1)} ms ` +
            `round_trips=${range(trips)} client_commands=${range(sent)} redis_commands=${range(executed)} ` +
            `statuses=${JSON.stringify(Object.fromEntries(statuses))}`,
        );
      } finally {
        redis.disconnect();
        await server.stop();
      }
    }, 300_000);
  }
});
