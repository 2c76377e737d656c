/**
 * Reconcile cycle cost at 100 … 50 000 symbols (SPEC §7), the real `ReconcileEngine` in
 * this process: duration, CPU (process.cpuUsage), Redis round trips and commands counted
 * on the engine's own client, Redis server CPU (INFO cpu), RSS. Floor: the commands the
 * engine sent in one cycle, recorded and replayed batch for batch by a bare client (the
 * same Redis work without decoding, deciding or encoding).
 *
 * Steady state: every symbol has a snapshot, a ledger and a lot size; one symbol in
 * `driftEvery` drifts without evidence (a hold, re-armed every cycle); `fills` executed
 * results sit in the evidence window. Snapshots are written once, so the freshness limit
 * is raised to 1 h to keep them fresh across the run (otherwise every symbol would turn
 * into a stale hold part way through a 50 000-symbol run).
 */
import { performance } from 'node:perf_hooks';
import { Decimal } from '../../src/domain/amount.js';
import { createRedis, waitForReady } from '../../src/redis/connection.js';
import { takeSoleTerm } from '../../src/redis/ha/sole-term.js';
import { buildKeys } from '../../src/redis/keys.js';
import { ReconcileEngine, type CycleReport } from '../../src/reconcile/engine.js';
import { createReconcileMetrics } from '../../src/reconcile/metrics.js';
import { syntheticSymbols } from '../../src/dev/venue/venue.js';
import { benchLogger } from '../bench-logger.js';
import { replayBatches, tapClient } from '../client-tap.js';
import { benchConfig } from '../environment.js';
import { redisCpuSec } from '../machine.js';
import { dropPrefix, seedSymbols } from '../seed.js';
import { type Summary, ratio, roundSummary, summarize } from '../stats.js';
import type { ScenarioContext } from './context.js';

export interface CycleSample {
  durationMs: number;
  cpuMs: number;
  redisCpuMs: number;
  roundTrips: number;
  commands: number;
  rssMb: number;
}

export interface ReconcileSizeResult {
  symbols: number;
  cycles: number;
  durationMs: Summary | null;
  cpuMs: Summary | null;
  redisCpuMs: Summary | null;
  roundTripsPerCycle: { min: number; max: number };
  commandsPerCycle: { min: number; max: number };
  rssMbAfter: number;
  heapUsedMbAfter: number;
  statuses: Record<string, number>;
  commitErrors: number;
  floorReplayMs: Summary | null;
  ratioToFloor: number | null;
  ratioToPing: number | null;
  targetMs: number | null;
  /** Median cycle under the target / every measured cycle under it (null: no target at this size). */
  meetsTarget: { median: boolean; everyCycle: boolean } | null;
}

const TARGET_10K_MS = 250;

function statuses(report: CycleReport): { counts: Record<string, number>; errors: number } {
  const counts: Record<string, number> = {};
  let errors = 0;
  for (const o of report.outcomes) {
    counts[o.decision.status] = (counts[o.decision.status] ?? 0) + 1;
    if (o.commit?.code === 'error') errors += 1;
  }
  return { counts, errors };
}

async function seedEvidence(
  ctx: ScenarioContext,
  stream: string,
  symbols: readonly string[],
  count: number,
): Promise<void> {
  const pipeline = ctx.admin.pipeline();
  for (let i = 0; i < count; i += 1) {
    const symbol = symbols[(i * 37) % symbols.length]!;
    pipeline.xadd(
      stream,
      '*',
      'plan_id',
      `bench-ev-${i}`,
      'symbol',
      symbol,
      'executed',
      'True',
      'side',
      i % 2 ? 'BUY' : 'SELL',
      'filled_qty',
      '0.001',
      'order_id',
      String(900000 + i),
      'reduceOnly',
      'true',
    );
  }
  await pipeline.exec();
}

export async function measureReconcileSize(
  ctx: ScenarioContext,
  size: number,
): Promise<ReconcileSizeResult> {
  const p = ctx.params.reconcile;
  const prefix = `${ctx.prefix}rc${size}`;
  const symbols = syntheticSymbols(size);
  const config = benchConfig(
    { redisUrl: ctx.redisUrl, prefix, symbols },
    { P34_EXCHANGE_FRESHNESS_SEC: '3600' },
  );
  const keys = buildKeys(prefix);
  ctx.progress(`reconcile: seeding ${size} symbols`);
  await seedSymbols(ctx.admin, keys, symbols, {
    nowMs: Date.now(),
    ledgerFor: (_s, i, ex) => (i % p.driftEvery === 0 ? ex.plus(new Decimal('0.5')) : ex),
  });
  await seedEvidence(ctx, keys.applyResultStream, symbols, p.fills);
  const redis = createRedis(config.redis, { name: 'bench-reconcile-engine' });
  redis.on('error', () => undefined);
  await waitForReady(redis);
  // The engine writes as the reconcile leader (SPEC §11): a term for the bench's prefix.
  const instanceId = 'bench:reconcile';
  const term = await takeSoleTerm({
    redis,
    keys,
    role: 'reconcile',
    instanceId,
    leaseMs: 3_600_000,
  });
  const engine = new ReconcileEngine({
    redis,
    keys,
    reconcile: config.reconcile,
    ledger: config.ledger,
    clock: { nowMs: () => Date.now() },
    logger: benchLogger('bench-reconcile'),
    metrics: createReconcileMetrics(),
    term,
    instanceId,
  });
  const tap = tapClient(redis);
  try {
    const warmup = size >= p.largeFrom ? 1 : p.warmupCycles;
    for (let i = 0; i < warmup; i += 1) await engine.runOnce();
    const samples: CycleSample[] = [];
    let last: CycleReport | null = null;
    for (let i = 0; i < p.cycles; i += 1) {
      const redisCpu0 = await redisCpuSec(ctx.admin);
      tap.reset();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      last = await engine.runOnce();
      const durationMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const redisCpu1 = await redisCpuSec(ctx.admin);
      samples.push({
        durationMs,
        cpuMs: (cpu.user + cpu.system) / 1000,
        redisCpuMs: (redisCpu1 - redisCpu0) * 1000,
        roundTrips: tap.writes,
        commands: tap.commands,
        rssMb: process.memoryUsage().rss / 1048576,
      });
    }
    ctx.progress(
      `reconcile: ${size} symbols, median ${summarize(samples.map((s) => s.durationMs))?.p50.toFixed(1)} ms`,
    );
    // The floor: record one more cycle's commands, replay them with a bare client.
    tap.record();
    await engine.runOnce();
    const batches = tap.takeRecording();
    const replay: number[] = [];
    for (let i = 0; i < p.replays; i += 1) {
      const t0 = performance.now();
      await replayBatches(ctx.admin, batches);
      replay.push(performance.now() - t0);
    }
    const { counts, errors } = last ? statuses(last) : { counts: {}, errors: 0 };
    const durationMs = summarize(samples.map((s) => s.durationMs));
    const floorReplayMs = summarize(replay);
    const memory = process.memoryUsage();
    const targetMs = size === 10_000 ? TARGET_10K_MS : null;
    return {
      symbols: size,
      cycles: samples.length,
      durationMs: roundSummary(durationMs),
      cpuMs: roundSummary(summarize(samples.map((s) => s.cpuMs))),
      redisCpuMs: roundSummary(summarize(samples.map((s) => s.redisCpuMs))),
      roundTripsPerCycle: {
        min: Math.min(...samples.map((s) => s.roundTrips)),
        max: Math.max(...samples.map((s) => s.roundTrips)),
      },
      commandsPerCycle: {
        min: Math.min(...samples.map((s) => s.commands)),
        max: Math.max(...samples.map((s) => s.commands)),
      },
      rssMbAfter: Math.round(memory.rss / 1048576),
      heapUsedMbAfter: Math.round(memory.heapUsed / 1048576),
      statuses: counts,
      commitErrors: errors,
      floorReplayMs: roundSummary(floorReplayMs),
      ratioToFloor: ratio(durationMs?.p50, floorReplayMs?.p50),
      ratioToPing: ratio(durationMs?.p50, ctx.floors.pingRttMs.p50),
      targetMs,
      meetsTarget:
        targetMs === null || durationMs === null
          ? null
          : { median: durationMs.p50 < targetMs, everyCycle: durationMs.max < targetMs },
    };
  } finally {
    tap.detach();
    redis.disconnect();
    await dropPrefix(ctx.admin, prefix);
  }
}

export async function runReconcileCycles(ctx: ScenarioContext): Promise<ReconcileSizeResult[]> {
  const results: ReconcileSizeResult[] = [];
  for (const size of ctx.params.reconcile.sizes)
    results.push(await measureReconcileSize(ctx, size));
  return results;
}
