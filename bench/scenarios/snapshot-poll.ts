/**
 * One snapshot poll covering N symbols (SPEC §3): the real `SnapshotPoller.pollOnce()`
 * with the real Binance client against the venue over HTTP, in this process. Before each
 * poll one mark price moves, so the venue re-serialises its response (no cached body).
 * Reported: duration, requests and X-MBX-USED-WEIGHT-1M per poll. Floor: the same signed
 * GET with bare fetch + JSON.parse, and the same number of HSET+PEXPIRE in one pipeline.
 */
import { performance } from 'node:perf_hooks';
import { createBrainMetrics } from '../../src/brain/metrics.js';
import { SnapshotPoller } from '../../src/brain/snapshot-poller.js';
import { BinanceClient } from '../../src/exchange/binance-client.js';
import { encodeQuery, signQuery } from '../../src/exchange/signing.js';
import { createRedis, waitForReady } from '../../src/redis/connection.js';
import { takeSoleTerm } from '../../src/redis/ha/sole-term.js';
import { buildKeys } from '../../src/redis/keys.js';
import { syntheticSymbols } from '../../src/dev/venue/venue.js';
import { benchLogger } from '../bench-logger.js';
import { BENCH_API_KEY, BENCH_API_SECRET, benchConfig, benchVenue } from '../environment.js';
import { dropPrefix, positionFor } from '../seed.js';
import { type Summary, ratio, roundSummary, summarize } from '../stats.js';
import type { ScenarioContext } from './context.js';

export interface SnapshotPollResult {
  symbols: number;
  polls: number;
  durationMs: Summary | null;
  positionRiskCallMs: Summary | null;
  requestsPerPoll: number;
  weightPerPoll: number | null;
  weightPerMinuteAtDefaultPoll: number | null;
  snapshotsWritten: number;
  floorMs: Summary | null;
  ratioToFloor: number | null;
}

async function barePoll(
  baseUrl: string,
  admin: ScenarioContext['admin'],
  keyOf: (s: string) => string,
): Promise<number> {
  const t0 = performance.now();
  const signed = signQuery(
    encodeQuery({ timestamp: String(Date.now()), recvWindow: '5000' }),
    BENCH_API_SECRET,
  );
  const response = await fetch(`${baseUrl}/fapi/v2/positionRisk?${signed}`, {
    headers: { 'X-MBX-APIKEY': BENCH_API_KEY },
  });
  const rows = (await response.json()) as Record<string, string>[];
  const pipeline = admin.pipeline();
  for (const row of rows) {
    const key = keyOf(row.symbol!);
    pipeline.hset(
      key,
      'position_amt',
      row.positionAmt!,
      'mark_price',
      row.markPrice!,
      'entry_price',
      row.entryPrice!,
      'ts_ms',
      String(Date.now()),
    );
    pipeline.pexpire(key, 3_600_000);
  }
  await pipeline.exec();
  return performance.now() - t0;
}

export async function runSnapshotPoll(ctx: ScenarioContext): Promise<SnapshotPollResult> {
  const p = ctx.params.snapshotPoll;
  const symbols = syntheticSymbols(p.symbols);
  const venue = await benchVenue(symbols);
  symbols.forEach((s, i) => {
    const amount = positionFor(i);
    if (!amount.isZero()) venue.control.setPosition(s, amount.toFixed(), '100');
  });
  const prefix = `${ctx.prefix}poll`;
  const config = benchConfig({ redisUrl: ctx.redisUrl, prefix, symbols, venue });
  const keys = buildKeys(prefix);
  const redis = createRedis(config.redis, { name: 'bench-poller' });
  redis.on('error', () => undefined);
  const logger = benchLogger('bench-poller');
  const clock = { nowMs: () => Date.now() };
  const client = new BinanceClient({ ...config.binance, clock, logger });
  // The poller writes as the brain-poller leader (SPEC §11): a term for the bench's prefix.
  await waitForReady(redis);
  const term = await takeSoleTerm({
    redis,
    keys,
    role: 'brain-poller',
    instanceId: 'bench:poller',
    leaseMs: 3_600_000,
  });
  const poller = new SnapshotPoller({
    client,
    redis,
    keys,
    term,
    allowlist: symbols,
    pollSec: config.brain.pollSec,
    snapshotTtlSec: config.brain.snapshotTtlSec,
    clock,
    metrics: createBrainMetrics(),
    logger,
  });
  try {
    await waitForReady(redis);
    await client.syncTime();
    const durations: number[] = [];
    const calls: number[] = [];
    const weights: number[] = [];
    let requests = 0;
    for (let i = 0; i < p.warmup + p.runs; i += 1) {
      venue.control.setMarkPrice(symbols[i % symbols.length]!, String(100 + i / 10));
      venue.control.resetRequestCounts();
      const weightBefore = client.usedWeight1m();
      const t0 = performance.now();
      const outcome = await poller.pollOnce();
      const elapsed = performance.now() - t0;
      if (outcome !== 'ok') throw new Error(`snapshot poll ${i} ended ${outcome}`);
      if (i < p.warmup) continue;
      durations.push(elapsed);
      const counts = venue.control.requestCounts();
      requests = Math.max(
        requests,
        Object.values(counts).reduce((a, b) => a + b, 0),
      );
      const weightAfter = client.usedWeight1m();
      if (weightBefore !== null && weightAfter !== null && weightAfter > weightBefore)
        weights.push(weightAfter - weightBefore);
      venue.control.setMarkPrice(symbols[(i + 1) % symbols.length]!, String(101 + i / 10));
      const c0 = performance.now();
      await client.positionRisk();
      calls.push(performance.now() - c0);
    }
    const written = await redis.exists(...symbols.map((s) => keys.snapshot(s)));
    const floor: number[] = [];
    for (let i = 0; i < p.warmup + p.runs; i += 1) {
      venue.control.setMarkPrice(symbols[i % symbols.length]!, String(200 + i / 10));
      const ms = await barePoll(venue.baseUrl, ctx.admin, (s) => `${prefix}:bare:${s}`);
      if (i >= p.warmup) floor.push(ms);
    }
    const durationMs = summarize(durations);
    const floorMs = summarize(floor);
    const weightPerPoll = weights.length > 0 ? Math.min(...weights) : null;
    return {
      symbols: symbols.length,
      polls: durations.length,
      durationMs: roundSummary(durationMs),
      positionRiskCallMs: roundSummary(summarize(calls)),
      requestsPerPoll: requests,
      weightPerPoll,
      weightPerMinuteAtDefaultPoll:
        weightPerPoll === null ? null : Math.round((60 / 5) * weightPerPoll),
      snapshotsWritten: written,
      floorMs: roundSummary(floorMs),
      ratioToFloor: ratio(durationMs?.p50, floorMs?.p50),
    };
  } finally {
    await poller.stop();
    redis.disconnect();
    await venue.close();
    await dropPrefix(ctx.admin, prefix);
  }
}
