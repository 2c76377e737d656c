/**
 * Memory of each service at N symbols under simulated load: the brain and the engine in
 * their own processes (venue with N symbols, a third of them holding positions, polled
 * every P33_POLL_SEC = 5 s, one engine cycle a second), plans at a steady rate and pairs
 * of opposite fills on apply.result (so ledgers move and come back). RSS and heap are
 * sampled over the run; the trend is the least-squares slope over its second half.
 */
import { performance } from 'node:perf_hooks';
import { syntheticSymbols } from '../../src/dev/venue/venue.js';
import { sleep } from '../environment.js';
import type { MemorySample } from '../service-protocol.js';
import type { ServiceProcess } from '../service-process.js';
import { round, slope } from '../stats.js';
import type { ScenarioContext } from './context.js';
import { startSystem, waitForSteadyState } from './system.js';

export interface ServiceMemory {
  service: string;
  samples: { tSec: number; rssMb: number; heapUsedMb: number }[];
  rssMb: { first: number; last: number; max: number };
  heapUsedMb: { first: number; last: number; max: number };
  rssSlopeMbPerMin: number | null;
  heapSlopeMbPerMin: number | null;
  cpuSecPerSec: number | null;
}

export interface MemoryResult {
  symbols: number;
  durationSec: number;
  load: { plansPerSec: number; fillPairsPerSec: number; plansSent: number; fillsSent: number };
  services: ServiceMemory[];
  note: string;
}

function summarizeService(
  service: string,
  samples: { tSec: number; m: MemorySample }[],
): ServiceMemory {
  const half = samples.slice(Math.floor(samples.length / 2));
  const rss = samples.map((s) => s.m.rssMb);
  const heap = samples.map((s) => s.m.heapUsedMb);
  const perMin = (v: number | null): number | null => (v === null ? null : round(v * 60, 2));
  const first = samples[0];
  const last = samples[samples.length - 1];
  return {
    service,
    samples: samples.map((s) => ({
      tSec: round(s.tSec, 1),
      rssMb: round(s.m.rssMb, 1),
      heapUsedMb: round(s.m.heapUsedMb, 1),
    })),
    rssMb: {
      first: round(rss[0] ?? 0, 1),
      last: round(rss[rss.length - 1] ?? 0, 1),
      max: round(Math.max(...rss), 1),
    },
    heapUsedMb: {
      first: round(heap[0] ?? 0, 1),
      last: round(heap[heap.length - 1] ?? 0, 1),
      max: round(Math.max(...heap), 1),
    },
    rssSlopeMbPerMin: perMin(slope(half.map((s) => ({ x: s.tSec, y: s.m.rssMb })))),
    heapSlopeMbPerMin: perMin(slope(half.map((s) => ({ x: s.tSec, y: s.m.heapUsedMb })))),
    cpuSecPerSec:
      first && last && last.tSec > first.tSec
        ? round((last.m.cpuSec - first.m.cpuSec) / (last.tSec - first.tSec), 3)
        : null,
  };
}

export async function runMemory(ctx: ScenarioContext): Promise<MemoryResult> {
  const p = ctx.params.memory;
  const symbols = syntheticSymbols(p.symbols);
  const system = await startSystem(ctx, 'mem', { symbols, probePattern: ':nothing:*' });
  const services = [system.brain, system.reconcile].filter((s): s is ServiceProcess => s !== null);
  const samples = new Map<string, { tSec: number; m: MemorySample }[]>(
    services.map((s) => [s.kind, []]),
  );
  let plans = 0;
  let fills = 0;
  try {
    await waitForSteadyState(system, 120_000);
    ctx.progress(`memory: steady at ${symbols.length} symbols; ${p.durationSec} s of load`);
    const start = performance.now();
    let nextSample = 0;
    while (performance.now() - start < p.durationSec * 1000) {
      const tSec = (performance.now() - start) / 1000;
      if (tSec >= nextSample) {
        for (const s of services) samples.get(s.kind)!.push({ tSec, m: await s.sample() });
        nextSample += p.sampleEverySec;
      }
      const pipeline = system.producer.pipeline();
      for (let i = 0; i < p.plansPerSec / 10; i += 1, plans += 1) {
        pipeline.xadd(
          system.keys.applyPlanStream,
          'MAXLEN',
          '~',
          10000,
          '*',
          'plan_id',
          `mem-${plans}`,
          'symbol',
          symbols[(plans * 3) % symbols.length]!,
          'decision',
          'EXECUTE',
          'action',
          'PARTIAL_50',
          'reduceOnly',
          'true',
          'timestamp',
          String(Date.now()),
        );
      }
      if (Math.random() < p.fillPairsPerSec / 10) {
        const symbol = symbols[(fills * 3) % symbols.length]!;
        for (const side of ['BUY', 'SELL']) {
          pipeline.xadd(
            system.keys.applyResultStream,
            'MAXLEN',
            '~',
            10000,
            '*',
            'plan_id',
            `memfill-${fills}`,
            'symbol',
            symbol,
            'executed',
            'True',
            'side',
            side,
            'filled_qty',
            '0.001',
            'order_id',
            String(700000 + fills),
            'reduceOnly',
            'false',
          );
          fills += 1;
        }
      }
      await pipeline.exec();
      await sleep(100);
    }
    for (const s of services)
      samples.get(s.kind)!.push({ tSec: (performance.now() - start) / 1000, m: await s.sample() });
  } finally {
    await system.stop();
  }
  return {
    symbols: symbols.length,
    durationSec: p.durationSec,
    load: {
      plansPerSec: p.plansPerSec,
      fillPairsPerSec: p.fillPairsPerSec,
      plansSent: plans,
      fillsSent: fills,
    },
    services: services.map((s) => summarizeService(s.kind, samples.get(s.kind)!)),
    note: `a ${p.durationSec} s run with the trend (not 10 minutes): the full bench must finish in under 10 minutes`,
  };
}
