/**
 * Plan → permit latency (SPEC §5): the real brain in its own process, the real engine
 * in another (heartbeat, ledgers initialised from the exchange), the venue polled every
 * P33_POLL_SEC (default 5 s), so plans meet fresh snapshots, valid ledgers, lot sizes and
 * a heartbeat and most are ALLOW. Then the bare floor (same Redis work, no logic) at the
 * same rates, in the same kind of process.
 */
import { buildKeys } from '../../src/redis/keys.js';
import { syntheticSymbols } from '../../src/dev/venue/venue.js';
import { benchEnv, harnessClient, sleep } from '../environment.js';
import { openKeyspaceProbe } from '../keyspace-probe.js';
import { seedSymbols } from '../seed.js';
import { startServiceProcess } from '../service-process.js';
import { ratio } from '../stats.js';
import type { ScenarioContext } from './context.js';
import {
  type DriveResult,
  type PlanTarget,
  driveBurst,
  drivePaced,
  permitOutcomes,
} from './plan-driver.js';
import { startSystem, waitForSteadyState } from './system.js';

export interface PlanRun {
  load: string;
  ratePerSec: number | null;
  product: Omit<DriveResult, 'planIds'> & { outcomes: Record<string, number> };
  floor: Omit<DriveResult, 'planIds'> | null;
  ratioP50ToFloor: number | null;
  ratioP50ToTwoPings: number | null;
}

export interface PlanPermitResult {
  symbols: number;
  runs: PlanRun[];
  targets: {
    p99At500Ms: { target: number; measured: number | null; met: boolean | null };
    p50VsTwoRoundTrips: { targetRatio: number; measured: number | null; met: boolean | null };
  };
}

function strip(r: DriveResult): Omit<DriveResult, 'planIds'> {
  const { planIds: _ids, ...rest } = r;
  return rest;
}

async function runLoads(
  target: PlanTarget,
  tag: string,
  rates: number[],
  ctx: ScenarioContext,
  burst: number | null,
): Promise<Map<string, DriveResult>> {
  const p = ctx.params.planPermit;
  const out = new Map<string, DriveResult>();
  for (const rate of rates) {
    ctx.progress(`plan-permit ${tag}: ${rate}/s`);
    await drivePaced(target, `${tag}-warm${rate}`, rate, p.warmupSec);
    out.set(`${rate}/s`, await drivePaced(target, `${tag}-r${rate}`, rate, p.durationSec));
    await sleep(200);
  }
  if (burst !== null) {
    ctx.progress(`plan-permit ${tag}: burst of ${burst}`);
    out.set(`burst ${burst}`, await driveBurst(target, `${tag}-burst`, burst));
  }
  return out;
}

async function measureFloor(
  ctx: ScenarioContext,
  symbols: readonly string[],
): Promise<Map<string, DriveResult>> {
  const p = ctx.params.planPermit;
  const prefix = `${ctx.prefix}ppbare`;
  const keys = buildKeys(prefix);
  await seedSymbols(ctx.admin, keys, symbols, { nowMs: Date.now() });
  const env = benchEnv({ redisUrl: ctx.redisUrl, prefix, symbols });
  const bare = await startServiceProcess('bare-brain', env);
  const producer = harnessClient(ctx.redisUrl, 'bench-bare-producer');
  const probe = await openKeyspaceProbe(
    harnessClient(ctx.redisUrl, 'bench-bare-probe'),
    0,
    `${prefix}:permit:p33:*`,
  );
  try {
    return await runLoads({ producer, keys, probe, symbols }, 'bare', p.bareRates, ctx, p.burst);
  } finally {
    await bare.stop();
    await probe.close();
    producer.disconnect();
  }
}

export async function runPlanPermit(ctx: ScenarioContext): Promise<PlanPermitResult> {
  const p = ctx.params.planPermit;
  const symbols = syntheticSymbols(p.symbols);
  const system = await startSystem(ctx, 'pp', {
    symbols,
    probePattern: ':permit:p33:*',
    // Every symbol holds a position, so plans can be allowed.
    positionOf: (i) => ((i % 4 === 3 ? -1 : 1) * (0.05 + (i % 7) / 100)).toFixed(3),
  });
  let product: Map<string, DriveResult>;
  const outcomes = new Map<string, Record<string, number>>();
  try {
    await waitForSteadyState(system, 30_000);
    const target: PlanTarget = {
      producer: system.producer,
      keys: system.keys,
      probe: system.probe,
      symbols,
    };
    product = await runLoads(target, 'brain', p.rates, ctx, p.burst);
    for (const [load, r] of product)
      outcomes.set(load, await permitOutcomes(system.reader, system.keys, r.planIds));
  } finally {
    await system.stop();
  }
  const floor = await measureFloor(ctx, symbols);
  const twoPings = 2 * ctx.floors.pingRttMs.p50;
  const runs: PlanRun[] = [...product].map(([load, r]) => {
    const f = floor.get(load) ?? null;
    return {
      load,
      ratePerSec: load.endsWith('/s') ? Number(load.slice(0, -2)) : null,
      product: { ...strip(r), outcomes: outcomes.get(load) ?? {} },
      floor: f === null ? null : strip(f),
      ratioP50ToFloor: ratio(r.latencyMs?.p50, f?.latencyMs?.p50),
      ratioP50ToTwoPings: ratio(r.latencyMs?.p50, twoPings),
    };
  });
  const at500 = runs.find((r) => r.ratePerSec === 500) ?? null;
  const p99 = at500?.product.latencyMs?.p99 ?? null;
  const p50Ratio = at500?.ratioP50ToTwoPings ?? null;
  return {
    symbols: symbols.length,
    runs,
    targets: {
      p99At500Ms: { target: 5, measured: p99, met: p99 === null ? null : p99 <= 5 },
      p50VsTwoRoundTrips: {
        targetRatio: 3,
        measured: p50Ratio,
        met: p50Ratio === null ? null : p50Ratio <= 3,
      },
    },
  };
}
