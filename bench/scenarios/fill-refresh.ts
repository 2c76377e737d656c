/**
 * The brain's CPU under a steady stream of our own fills at N symbols (SPEC §3: after each
 * executed fill a snapshot refresh runs within 250 ms). The brain runs alone in its own
 * process (production defaults: P33_POLL_SEC = 5) against the venue; ledgers and lot
 * sizes are seeded so every fill applies to a real ledger. Three phases of equal length:
 *
 * - idle: no fills (the regular polls only) — the baseline;
 * - one symbol per window: one fill every 250 ms, each on the next symbol;
 * - spread: one fill every 100 ms, each on the next symbol (2–3 symbols per 250 ms window).
 *
 * Reported per phase: the brain's CPU seconds per second (user + system, from the child's
 * `process.cpuUsage()`), the Redis server's (INFO cpu; the benchmark's Redis serves only
 * this scenario while it runs) and the positionRisk requests per second the venue received.
 * The same scenario ran before and after the symbol-only refresh (docs/performance.md).
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { syntheticSymbols } from '../../src/dev/venue/venue.js';
import { sleep, waitUntil } from '../environment.js';
import { redisCpuSec } from '../machine.js';
import { seedSymbols } from '../seed.js';
import { round } from '../stats.js';
import type { ScenarioContext } from './context.js';
import { type ServiceProcess, startServiceProcess } from '../service-process.js';
import { type System, startSystem } from './system.js';

export interface FillRefreshPhase {
  name: string;
  fillsPerSec: number;
  seconds: number;
  fillsSent: number;
  cpuSecPerSec: number;
  /** The Redis server's CPU (INFO cpu) over the phase: the snapshot writes run there. */
  redisCpuSecPerSec: number;
  positionRiskPerSec: number;
  positionRiskRequests: number;
}

export interface FillRefreshResult {
  symbols: number;
  pollSec: number;
  phases: FillRefreshPhase[];
}

const POSITION_RISK = '/fapi/v2/positionRisk';

function fillEntry(pipeline: ReturnType<Redis['pipeline']>, system: System, n: number): void {
  const symbol = system.symbols[n % system.symbols.length]!;
  pipeline.xadd(
    system.keys.applyResultStream,
    'MAXLEN',
    '~',
    10000,
    '*',
    'plan_id',
    `fr-${n}`,
    'symbol',
    symbol,
    'executed',
    'True',
    'side',
    'BUY',
    'filled_qty',
    '0.001',
    'order_id',
    String(900000 + n),
    'reduceOnly',
    'false',
  );
}

async function phase(
  system: System,
  brain: ServiceProcess,
  name: string,
  everyMs: number | null,
  seconds: number,
  counter: { n: number },
): Promise<FillRefreshPhase> {
  const requestsBefore = system.venue.control.requestCounts()[POSITION_RISK] ?? 0;
  const before = await brain.sample();
  const redisBefore = await redisCpuSec(system.producer);
  const start = performance.now();
  let sent = 0;
  let next = start;
  while (performance.now() - start < seconds * 1000) {
    if (everyMs !== null && performance.now() >= next) {
      const pipeline = system.producer.pipeline();
      fillEntry(pipeline, system, counter.n);
      counter.n += 1;
      sent += 1;
      await pipeline.exec();
      next += everyMs;
    }
    await sleep(everyMs === null ? 100 : Math.max(1, Math.min(20, next - performance.now())));
  }
  const after = await brain.sample();
  const redisAfter = await redisCpuSec(system.producer);
  const wall = (performance.now() - start) / 1000;
  const requests = (system.venue.control.requestCounts()[POSITION_RISK] ?? 0) - requestsBefore;
  return {
    name,
    fillsPerSec: everyMs === null ? 0 : round(1000 / everyMs, 2),
    seconds: round(wall, 1),
    fillsSent: sent,
    cpuSecPerSec: round((after.cpuSec - before.cpuSec) / wall, 3),
    redisCpuSecPerSec: round((redisAfter - redisBefore) / wall, 3),
    positionRiskPerSec: round(requests / wall, 2),
    positionRiskRequests: requests,
  };
}

export async function runFillRefresh(ctx: ScenarioContext): Promise<FillRefreshResult> {
  const p = ctx.params.fillRefresh;
  const symbols = syntheticSymbols(p.symbols);
  const pollSec = 5;
  const system = await startSystem(ctx, 'fr', {
    symbols,
    probePattern: ':nothing:*',
    reconcile: false,
    brain: false,
    overrides: { P33_POLL_SEC: String(pollSec), P33_REQUIRE_RECONCILE: 'false' },
  });
  const counter = { n: 0 };
  let brain: ServiceProcess | null = null;
  try {
    // Ledgers and lot sizes first, so every fill applies to a real ledger.
    const seededMs = Date.now() - 60_000;
    await seedSymbols(system.producer, system.keys, symbols, { nowMs: seededMs });
    brain = await startServiceProcess('brain', system.env);
    const last = symbols[symbols.length - 1]!;
    await waitUntil(
      'the brain wrote the snapshots',
      async () => Number(await system.reader.hget(system.keys.snapshot(last), 'ts_ms')) > seededMs,
      120_000,
      100,
    );
    await sleep(p.settleSec * 1000);
    ctx.progress(`fill-refresh: ${symbols.length} symbols; ${p.phaseSec} s per phase`);
    const phases = [
      await phase(system, brain, 'idle (no fills)', null, p.phaseSec, counter),
      await phase(system, brain, 'one fill / 250 ms, next symbol each', 250, p.phaseSec, counter),
      await phase(system, brain, 'one fill / 100 ms, next symbol each', 100, p.phaseSec, counter),
    ];
    return { symbols: symbols.length, pollSec, phases };
  } finally {
    await brain?.stop();
    await system.stop();
  }
}
