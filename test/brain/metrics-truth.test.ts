/**
 * The brain's gauges say what Redis holds (SPEC §9), read from the real brain's /metrics
 * on real Redis with the simulated venue:
 * - `p33_ledger_amt` is the ledger whoever wrote it: one that existed before the brain
 *   started (the engine's init, a previous run), an operator's `posguard ledger set` (the
 *   built CLI), a repair written under the brain; gone when the ledger is.
 * - `p33_snapshot_age_sec` exists for every allowlisted symbol from start: the real age of
 *   a snapshot this process never wrote (the account is in hedge mode for it, so it is
 *   never rewritten) and +Inf for a symbol never written at all.
 * - `p33_evaluation_duration_seconds` counts one observation per evaluated plan; the batch
 *   (reads, rules, permit writes) has its own histogram.
 */
import { Redis } from 'ioredis';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { startBrain, type BrainService } from '../../src/brain/service.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../src/dev/redis-server.js';
import { buildKeys } from '../../src/redis/keys.js';
import { assertBuilt, runCli } from '../cli/run-cli.js';
import { API_KEY, API_SECRET, type Rig, startRig } from '../exchange/helpers.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { addPlan, waitFor, waitForPermit, writeLedger, writeSnapshot } from './helpers.js';

let t: TestRedis;
let rig: Rig;
let service: BrainService | null;
let server: EmbeddedRedis | null;

const ALLOWLIST = 'BTCUSDT,ETHUSDT,XRPUSDT';

function env(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: t.url,
    KEY_PREFIX: t.prefix,
    P33_ALLOWLIST: ALLOWLIST,
    P33_POLL_SEC: '30',
    P33_METRICS_PORT: '0',
    BINANCE_BASE_URL: rig.venue.baseUrl,
    BINANCE_WS_URL: rig.venue.wsUrl,
    BINANCE_API_KEY: API_KEY,
    BINANCE_API_SECRET: API_SECRET,
    ...overrides,
  };
}

async function start(overrides: Record<string, string> = {}): Promise<BrainService> {
  service = await startBrain({
    config: loadConfig(env(overrides)),
    logger: silentLogger(),
    consumer: 'metrics-truth',
  });
  return service;
}

async function metricsText(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${service!.httpPort}/metrics`)).text();
}

/** The value of one sample (`name{labels}`), null when the series is absent. */
async function sample(series: string): Promise<number | null> {
  const line = (await metricsText()).split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) return null;
  const text = line.slice(series.length + 1).trim();
  return text === '+Inf' ? Infinity : Number(text);
}

/** Waits (bounded) until the sample satisfies `ok`; returns the value seen. */
async function sampleUntil(
  series: string,
  ok: (v: number | null) => boolean,
): Promise<number | null> {
  let last: number | null = null;
  try {
    return (
      await waitFor(async () => {
        last = await sample(series);
        return ok(last) ? { value: last } : null;
      }, 10_000)
    ).value;
  } catch {
    throw new Error(`${series}: last seen ${String(last)}, never the expected value`);
  }
}

beforeAll(() => assertBuilt());
beforeEach(async () => {
  t = openTestRedis('mtruth');
  rig = await startRig({ symbols: ['BTCUSDT', 'ETHUSDT'] });
  service = null;
  server = null;
});
afterEach(async () => {
  await service?.stop();
  await server?.stop();
  await rig.venue.close();
  await t.close();
});

describe('brain gauges read from Redis', () => {
  it('p33_ledger_amt equals the ledger whoever wrote it, from start and after a restart', async () => {
    // Written before the brain starts, as the engine's init writes it.
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '0.038');
    await start();
    expect(await sampleUntil('p33_ledger_amt{symbol="BTCUSDT"}', (v) => v === 0.038)).toBe(0.038);
    expect(await sample('p33_ledger_amt{symbol="ETHUSDT"}')).toBeNull();

    // An operator's `posguard ledger set`, through the built CLI.
    const set = await runCli(
      ['ledger', 'set', 'ETHUSDT', '-1.25', '--reason', 'opened by hand', '--yes'],
      { env: { REDIS_URL: t.url, KEY_PREFIX: t.prefix, USER: 'carol' } },
    );
    expect(set.code, set.stderr).toBe(0);
    expect(await sampleUntil('p33_ledger_amt{symbol="ETHUSDT"}', (v) => v === -1.25)).toBe(-1.25);

    // A repair written under the brain (the engine's codec), then a restart.
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '0.05', { previousVersion: 1 });
    expect(await sampleUntil('p33_ledger_amt{symbol="BTCUSDT"}', (v) => v === 0.05)).toBe(0.05);
    await service!.stop();
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '0.07', { previousVersion: 2 });
    await start();
    expect(await sampleUntil('p33_ledger_amt{symbol="BTCUSDT"}', (v) => v === 0.07)).toBe(0.07);

    // No ledger in Redis: no series.
    await t.redis.del(t.keys.ledger('ETHUSDT'));
    expect(await sampleUntil('p33_ledger_amt{symbol="ETHUSDT"}', (v) => v === null)).toBeNull();
  });

  it('p33_snapshot_age_sec from start for every allowlisted symbol: real age, +Inf when never written', async () => {
    // ETHUSDT: a snapshot written two minutes ago (by an earlier run), and the account is
    // now in hedge mode for it, so this brain never rewrites it. XRPUSDT: never written.
    await writeSnapshot(t.redis, t.keys, 'ETHUSDT', '0.5', 120);
    rig.venue.control.addFault({
      kind: 'hedge_mode',
      path: '/fapi/v2/positionRisk',
      symbols: ['ETHUSDT'],
    });
    await start();
    const eth = await sampleUntil('p33_snapshot_age_sec{symbol="ETHUSDT"}', (v) => v !== null);
    expect(eth).toBeGreaterThanOrEqual(120);
    expect(eth).toBeLessThan(600);
    expect(await sampleUntil('p33_snapshot_age_sec{symbol="XRPUSDT"}', (v) => v !== null)).toBe(
      Infinity,
    );
    // BTCUSDT is polled and fresh.
    expect(
      await sampleUntil('p33_snapshot_age_sec{symbol="BTCUSDT"}', (v) => v !== null && v < 30),
    ).toBeLessThan(30);
    // The stuck symbol's age keeps growing.
    expect(
      await sampleUntil('p33_snapshot_age_sec{symbol="ETHUSDT"}', (v) => v !== null && v > eth!),
    ).toBeGreaterThan(eth!);

    // Written at last (another instance, or the account back in one-way mode): a real age.
    await writeSnapshot(t.redis, t.keys, 'XRPUSDT', '0', 2);
    const xrp = await sampleUntil(
      'p33_snapshot_age_sec{symbol="XRPUSDT"}',
      (v) => v !== null && Number.isFinite(v),
    );
    expect(xrp).toBeGreaterThanOrEqual(2);
    expect(xrp).toBeLessThan(30);
  });

  it('p33_evaluation_duration_seconds counts one evaluation per plan, not one per batch', async () => {
    // Five EXECUTE plans and two that are not evaluated, all waiting before the brain
    // starts: they are read as one batch.
    for (let i = 0; i < 5; i += 1) await addPlan(t.redis, t.keys, `eval-${i}`, 'BTCUSDT');
    await addPlan(t.redis, t.keys, 'eval-skip', 'BTCUSDT', { decision: 'SKIP' });
    await t.redis.xadd(t.keys.applyPlanStream, '*', 'garbage', 'x');
    await start();
    for (let i = 0; i < 5; i += 1) await waitForPermit(t.redis, t.keys, `eval-${i}`);
    const count = await sampleUntil('p33_evaluation_duration_seconds_count', (v) => v === 5);
    expect(count).toBe(5);
    const batches = await sample('p33_plan_batch_duration_seconds_count');
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThan(5);
  });

  it('Redis down: a scrape still answers, the last values stay, ages keep growing, the failure is counted', async () => {
    server = await startEmbeddedRedis();
    const keys = buildKeys(t.prefix);
    const direct = new Redis(server.url, { maxRetriesPerRequest: 1 });
    await writeLedger(direct, keys, 'BTCUSDT', '0.038');
    direct.disconnect();
    await start({ REDIS_URL: server.url });
    expect(await sampleUntil('p33_ledger_amt{symbol="BTCUSDT"}', (v) => v === 0.038)).toBe(0.038);
    const before = await sampleUntil('p33_snapshot_age_sec{symbol="BTCUSDT"}', (v) => v! < 30);

    await server.kill();
    const during = await sampleUntil(
      'p33_snapshot_age_sec{symbol="BTCUSDT"}',
      (v) => v !== null && v > before! + 1,
    );
    expect(Number.isFinite(during)).toBe(true);
    expect(await sample('p33_ledger_amt{symbol="BTCUSDT"}')).toBe(0.038);
    expect(
      await sampleUntil(
        'p33_loop_errors_total{component="state-gauges"}',
        (v) => v !== null && v > 0,
      ),
    ).toBeGreaterThan(0);
  });
});
