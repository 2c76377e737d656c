/**
 * Ledger updates from apply.result (SPEC §4): the real `LedgerUpdater` (consumer group,
 * `brain_apply_fill.lua`) in this process. N executed fills over M symbols are added to
 * the stream as fast as Redis takes them; throughput = N / (first XADD → every entry acked).
 * Exactly once is verified: each final ledger must equal its initial amount plus the
 * signed sum of its fills (decimals), and its version must have grown by its fill count.
 * Floor: a bare loop doing the same Redis round trips per entry (XREADGROUP batch; per
 * entry 2 × HGETALL, then the same script with a fixed field set) without decoding.
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { brainApplyFill } from '../../src/redis/scripts/brain-apply-fill.js';
import { runScript } from '../../src/redis/scripts/script.js';
import { LedgerUpdater, RESULT_GROUP } from '../../src/brain/ledger-updater.js';
import { createBrainMetrics } from '../../src/brain/metrics.js';
import { Decimal, type Amount, DEFAULT_EPSILON } from '../../src/domain/amount.js';
import { decodeLedger } from '../../src/domain/ledger.js';
import { createRedis, waitForReady } from '../../src/redis/connection.js';
import { type Keys, buildKeys } from '../../src/redis/keys.js';
import { syntheticSymbols } from '../../src/dev/venue/venue.js';
import { benchLogger } from '../bench-logger.js';
import { benchConfig, waitUntil } from '../environment.js';
import { dropPrefix, seedSymbols } from '../seed.js';
import { ratio, round } from '../stats.js';
import type { ScenarioContext } from './context.js';

export interface LedgerResult {
  fills: number;
  symbols: number;
  seconds: number;
  fillsPerSec: number;
  verified: { ledgersExact: boolean; versionsExact: boolean; mismatches: string[] };
  floorFillsPerSec: number | null;
  ratioToFloor: number | null;
  roundTripsPerFillFloor: number;
}

const INITIAL = new Decimal(1000);

function fillFor(
  i: number,
  symbols: readonly string[],
): { symbol: string; side: 'BUY' | 'SELL'; qty: string } {
  return {
    symbol: symbols[i % symbols.length]!,
    side: i % 3 === 0 ? 'SELL' : 'BUY',
    qty: ((i % 9) + 1) / 1000 + '',
  };
}

async function addFills(
  redis: Redis,
  keys: Keys,
  symbols: readonly string[],
  count: number,
): Promise<void> {
  for (let start = 0; start < count; start += 1000) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(count, start + 1000); i += 1) {
      const f = fillFor(i, symbols);
      pipeline.xadd(
        keys.applyResultStream,
        '*',
        'plan_id',
        `bench-fill-${i}`,
        'symbol',
        f.symbol,
        'executed',
        'True',
        'side',
        f.side,
        'filled_qty',
        f.qty,
        'order_id',
        String(500000 + i),
        'reduceOnly',
        'false',
        'ts_ms',
        String(Date.now()),
      );
    }
    await pipeline.exec();
  }
}

async function groupDone(redis: Redis, stream: string, group: string): Promise<boolean> {
  const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  for (const g of groups) {
    const info: Record<string, unknown> = {};
    for (let i = 0; i + 1 < g.length; i += 2) info[String(g[i])] = g[i + 1];
    if (info.name === group) return info.pending === 0 && info.lag === 0;
  }
  return false;
}

async function verify(
  redis: Redis,
  keys: Keys,
  symbols: readonly string[],
  count: number,
): Promise<LedgerResult['verified']> {
  const expected = new Map<string, { amount: Amount; fills: number }>();
  for (const s of symbols) expected.set(s, { amount: INITIAL, fills: 0 });
  for (let i = 0; i < count; i += 1) {
    const f = fillFor(i, symbols);
    const e = expected.get(f.symbol)!;
    const q = new Decimal(f.qty);
    expected.set(f.symbol, {
      amount: f.side === 'BUY' ? e.amount.plus(q) : e.amount.minus(q),
      fills: e.fills + 1,
    });
  }
  const mismatches: string[] = [];
  let versionsExact = true;
  for (const s of symbols) {
    const read = decodeLedger(await redis.hgetall(keys.ledger(s)), DEFAULT_EPSILON);
    const e = expected.get(s)!;
    if (read.kind !== 'ok' || !read.ledger.amount.eq(e.amount)) {
      mismatches.push(
        `${s}: expected ${e.amount.toFixed()}, got ${read.kind === 'ok' ? read.ledger.amount.toFixed() : read.kind}`,
      );
    }
    if (read.kind !== 'ok' || read.ledger.version !== 1 + e.fills) versionsExact = false;
  }
  return {
    ledgersExact: mismatches.length === 0,
    versionsExact,
    mismatches: mismatches.slice(0, 5),
  };
}

async function bareRate(
  ctx: ScenarioContext,
  symbols: readonly string[],
  count: number,
): Promise<number> {
  const prefix = `${ctx.prefix}ledbare`;
  const keys = buildKeys(prefix);
  await seedSymbols(ctx.admin, keys, symbols, { nowMs: Date.now(), ledgerFor: () => INITIAL });
  await ctx.admin.xgroup('CREATE', keys.applyResultStream, 'bare', '$', 'MKSTREAM');
  await addFills(ctx.admin, keys, symbols, count);
  const t0 = performance.now();
  let done = 0;
  while (done < count) {
    const reply = (await ctx.admin.xreadgroup(
      'GROUP',
      'bare',
      'c',
      'COUNT',
      256,
      'STREAMS',
      keys.applyResultStream,
      '>',
    )) as [string, [string, string[]][]][] | null;
    for (const [id, flat] of reply?.[0]?.[1] ?? []) {
      const symbol = flat[flat.indexOf('symbol') + 1]!;
      const [ledger] = await Promise.all([
        ctx.admin.hgetall(keys.ledger(symbol)),
        ctx.admin.hgetall(keys.symbolLotSize(symbol)),
      ]);
      await runScript(ctx.admin, brainApplyFill, {
        keys,
        symbol,
        entryId: id,
        expectedVersion: ledger.version ?? '',
        fields: { ledger_amt: '1', version: String(Number(ledger.version ?? 0) + 1) },
        group: 'bare',
        ledgerTtlMs: 86_400_000,
        markerTtlMs: 600_000,
      });
      done += 1;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  await dropPrefix(ctx.admin, prefix);
  return count / seconds;
}

export async function runLedgerUpdates(ctx: ScenarioContext): Promise<LedgerResult> {
  const p = ctx.params.ledger;
  const symbols = syntheticSymbols(p.symbols);
  const prefix = `${ctx.prefix}led`;
  const keys = buildKeys(prefix);
  const config = benchConfig({ redisUrl: ctx.redisUrl, prefix, symbols });
  await seedSymbols(ctx.admin, keys, symbols, { nowMs: Date.now(), ledgerFor: () => INITIAL });
  const reader = createRedis(config.redis, { name: 'bench-ledger-reader' });
  const redis = createRedis(config.redis, { name: 'bench-ledger' });
  for (const r of [reader, redis]) r.on('error', () => undefined);
  await Promise.all([waitForReady(reader), waitForReady(redis)]);
  const updater = new LedgerUpdater({
    reader,
    redis,
    keys,
    consumer: 'bench',
    allowlist: symbols,
    ledgerTtlSec: 86400,
    markerTtlSec: 600,
    clock: { nowMs: () => Date.now() },
    metrics: createBrainMetrics(),
    logger: benchLogger('bench-ledger'),
  });
  try {
    updater.start();
    await waitUntil(
      'the ledger group',
      async () => (await ctx.admin.exists(keys.applyResultStream)) === 1,
      10_000,
      20,
    );
    ctx.progress(`ledger: ${p.fills} fills over ${symbols.length} symbols`);
    const t0 = performance.now();
    await addFills(ctx.admin, keys, symbols, p.fills);
    await waitUntil(
      'every fill acked',
      () => groupDone(ctx.admin, keys.applyResultStream, RESULT_GROUP),
      600_000,
      10,
    );
    const seconds = (performance.now() - t0) / 1000;
    const verified = await verify(ctx.admin, keys, symbols, p.fills);
    const floor = await bareRate(ctx, symbols, p.fills);
    const fillsPerSec = p.fills / seconds;
    return {
      fills: p.fills,
      symbols: symbols.length,
      seconds: round(seconds),
      fillsPerSec: Math.round(fillsPerSec),
      verified,
      floorFillsPerSec: Math.round(floor),
      ratioToFloor: ratio(floor, fillsPerSec),
      roundTripsPerFillFloor: 2,
    };
  } finally {
    await updater.stop();
    reader.disconnect();
    redis.disconnect();
    await dropPrefix(ctx.admin, prefix);
  }
}
