/**
 * Detection latency: an external (manual) trade on the venue → the engine's hold readable
 * (its `set` seen by the keyspace probe). The real brain (REST poller, and in the stream
 * modes the user-data stream too) and the real engine, each in its own process. Each
 * sample uses a fresh symbol and starts at a random phase of the poll/cycle schedule.
 */
import { performance } from 'node:perf_hooks';
import { syntheticSymbols } from '../../src/dev/venue/venue.js';
import { sleep } from '../environment.js';
import { type Summary, ratio, roundSummary, summarize } from '../stats.js';
import type { ScenarioContext } from './context.js';
import { startSystem, waitForSteadyState } from './system.js';

export interface DetectionMode {
  mode: 'polling' | 'user_stream' | 'user_stream_fast_cadence';
  pollSec: number;
  cadenceSec: number;
  userStream: boolean;
  latencyMs: Summary | null;
  missed: number;
  holdReasons: Record<string, number>;
  target: { kind: 'max_le_ms' | 'median_le_ms'; ms: number; met: boolean | null };
  ratioP50ToPing: number | null;
}

async function measureMode(
  ctx: ScenarioContext,
  mode: DetectionMode['mode'],
  pollSec: number,
  cadenceSec: number,
  userStream: boolean,
): Promise<DetectionMode> {
  const samples = ctx.params.detection.samples;
  const symbols = syntheticSymbols(samples + 1);
  const system = await startSystem(
    ctx,
    `det${mode.length}${userStream ? 's' : 'p'}${Math.round(cadenceSec * 1000)}`,
    {
      symbols,
      probePattern: ':reconcile:hold:*',
      positionOf: () => '0.100',
      overrides: {
        P33_POLL_SEC: String(pollSec),
        P34_LOOP_CADENCE_SEC: String(cadenceSec),
        P33_USER_STREAM: userStream ? 'true' : 'false',
      },
    },
  );
  const latencies: number[] = [];
  const reasons: Record<string, number> = {};
  let missed = 0;
  try {
    await waitForSteadyState(system, 30_000);
    ctx.progress(`detection ${mode}: steady, ${samples} samples`);
    const phaseSpanMs = (userStream ? cadenceSec : pollSec) * 1000;
    for (let i = 0; i < samples; i += 1) {
      const symbol = symbols[i]!;
      await sleep(Math.random() * phaseSpanMs);
      const holdKey = system.keys.hold(symbol);
      system.probe.forget(holdKey); // holds set while the system was starting are not this sample's
      const seen = system.probe.waitFor(holdKey, (pollSec + cadenceSec) * 3000 + 5000);
      const t0 = performance.now();
      system.venue.control.externalTrade(symbol, '0.010');
      const t1 = await seen;
      if (t1 === null) {
        missed += 1;
        continue;
      }
      latencies.push(t1 - t0);
      const reason =
        (await system.reader.hget(system.keys.reconcileState(symbol), 'reason')) ?? '?';
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    }
  } finally {
    await system.stop();
  }
  const latencyMs = roundSummary(summarize(latencies));
  const bound = mode === 'polling' ? (pollSec + cadenceSec) * 1000 : 100;
  const measured = mode === 'polling' ? latencyMs?.max : latencyMs?.p50;
  return {
    mode,
    pollSec,
    cadenceSec,
    userStream,
    latencyMs,
    missed,
    holdReasons: reasons,
    target: {
      kind: mode === 'polling' ? 'max_le_ms' : 'median_le_ms',
      ms: bound,
      met: measured === undefined || missed > 0 ? (missed > 0 ? false : null) : measured <= bound,
    },
    ratioP50ToPing: ratio(latencyMs?.p50, ctx.floors.pingRttMs.p50),
  };
}

export async function runDetection(ctx: ScenarioContext): Promise<DetectionMode[]> {
  const d = ctx.params.detection;
  return [
    await measureMode(ctx, 'polling', d.pollSec, d.cadenceSec, false),
    await measureMode(ctx, 'user_stream', d.pollSec, d.cadenceSec, true),
    await measureMode(ctx, 'user_stream_fast_cadence', d.pollSec, d.fastCadenceSec, true),
  ];
}
