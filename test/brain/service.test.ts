/**
 * The brain service end to end: real Redis, the simulated venue over real HTTP, the
 * Binance client built from config, and the three components running together.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { API_KEY, API_SECRET, type Rig, startRig } from '../exchange/helpers.js';
import { loadConfig } from '../../src/config/config.js';
import { startBrain, type BrainService } from '../../src/brain/service.js';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../src/dev/redis-server.js';
import { buildKeys } from '../../src/redis/keys.js';
import { Redis } from 'ioredis';
import { PLAN_GROUP } from '../../src/brain/plan-evaluator.js';
import { RESULT_GROUP } from '../../src/brain/ledger-updater.js';
import { groupNames } from '../helpers/reliability-brain.js';
import { type CapturedLogs, captureLogs } from '../helpers/logs.js';
import { waitFor } from '../helpers/wait.js';
import { addPlan, waitForPermit, writeLedger } from './helpers.js';

let t: TestRedis;
let rig: Rig;
let service: BrainService | null;
let logs: CapturedLogs;

function env(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: t.url,
    KEY_PREFIX: t.prefix,
    P33_ALLOWLIST: 'BTCUSDT,ETHUSDT',
    P33_POLL_SEC: '0.2',
    P33_STALE_THRESHOLD_SEC: '10',
    P33_COOLDOWN_SEC: '15',
    P33_METRICS_PORT: '0',
    P33_LOG_LEVEL: 'info',
    BINANCE_BASE_URL: rig.venue.baseUrl,
    BINANCE_WS_URL: rig.venue.wsUrl,
    BINANCE_API_KEY: API_KEY,
    BINANCE_API_SECRET: API_SECRET,
    BINANCE_TIMEOUT_SEC: '5',
    ...overrides,
  };
}

async function start(overrides: Record<string, string> = {}): Promise<BrainService> {
  service = await startBrain({
    config: loadConfig(env(overrides)),
    logger: logs.logger,
    consumer: 'brain-test',
  });
  return service;
}

async function heartbeatFromReconcile(): Promise<void> {
  await t.redis.set(t.keys.reconcileHeartbeat, '{"ts_ms":1}', 'PX', 600_000);
}

async function snapshotAmount(symbol: string): Promise<string | null> {
  return (await t.redis.hget(t.keys.snapshot(symbol), 'position_amt')) ?? null;
}

async function metricsText(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${service!.httpPort}/metrics`)).text();
}

/** The sum of a metric's series whose labels include `labels`. */
async function metricSum(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await service!.metrics.registry.getSingleMetric(name)?.get();
  return (metric?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

async function pollsOk(): Promise<number> {
  return metricSum('p33_poll_total', { outcome: 'ok' });
}

beforeEach(async () => {
  t = openTestRedis('sv');
  rig = await startRig({ symbols: ['BTCUSDT', 'ETHUSDT'] });
  service = null;
  logs = captureLogs('info', 'brain-test');
});

afterEach(async () => {
  await service?.stop();
  await rig.venue.close();
  await t.close();
});

describe('brain service', () => {
  it('plan → ALLOW; the fill updates the ledger and refreshes the snapshot; the next plan is in cooldown', async () => {
    rig.venue.control.setPosition('BTCUSDT', '0.038');
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '0.038');
    await heartbeatFromReconcile();
    await start({ P33_POLL_SEC: '30' });
    await waitFor(() =>
      t.redis.exists(t.keys.symbolLotSize('BTCUSDT')).then((n) => (n === 1 ? true : null)),
    );
    await waitFor(async () => ((await snapshotAmount('BTCUSDT')) === '0.038' ? true : null));

    await addPlan(t.redis, t.keys, 'e2e-1', 'BTCUSDT');
    const permit = await waitForPermit(t.redis, t.keys, 'e2e-1');
    expect(permit).toMatchObject({
      allow: true,
      safe_close_qty: 0.028,
      exchange_position_amt: 0.038,
      ledger_position_amt: 0.038,
      step_size: 0.001,
    });

    // The Apply Layer executes and reports; the snapshot catches up without waiting 30 s.
    const order = await rig.client.placeOrder({
      symbol: 'BTCUSDT',
      side: 'SELL',
      quantity: '0.028',
      reduceOnly: true,
    });
    await t.redis.xadd(
      t.keys.applyResultStream,
      '*',
      'plan_id',
      'e2e-1',
      'symbol',
      'BTCUSDT',
      'executed',
      'True',
      'side',
      'SELL',
      'filled_qty',
      '0.028',
      'order_id',
      order.orderId,
    );
    await waitFor(async () =>
      (await t.redis.hget(t.keys.ledger('BTCUSDT'), 'ledger_amt')) === '0.01' ? true : null,
    );
    await waitFor(async () => ((await snapshotAmount('BTCUSDT')) === '0.01' ? true : null), 5000);
    expect(await t.redis.hget(t.keys.ledger('BTCUSDT'), 'last_order_id')).toBe(order.orderId);

    await addPlan(t.redis, t.keys, 'e2e-2', 'BTCUSDT');
    expect(await waitForPermit(t.redis, t.keys, 'e2e-2')).toMatchObject({
      allow: false,
      reason: 'cooldown_in_flight',
    });
  });

  it('a SHORT position keeps its sign through snapshot, ledger and permit', async () => {
    rig.venue.control.setPosition('ETHUSDT', '-2');
    await writeLedger(t.redis, t.keys, 'ETHUSDT', '-2');
    await heartbeatFromReconcile();
    await start({ P33_COOLDOWN_SEC: '0' });
    await waitFor(async () => ((await snapshotAmount('ETHUSDT')) === '-2' ? true : null));
    await waitFor(() =>
      t.redis.exists(t.keys.symbolLotSize('ETHUSDT')).then((n) => (n === 1 ? true : null)),
    );
    await addPlan(t.redis, t.keys, 's1', 'ETHUSDT', { action: 'PARTIAL_50' });
    expect(await waitForPermit(t.redis, t.keys, 's1')).toMatchObject({
      allow: true,
      safe_close_qty: 1,
      exchange_position_amt: -2,
      ledger_position_amt: -2,
    });
    await rig.client.placeOrder({
      symbol: 'ETHUSDT',
      side: 'BUY',
      quantity: '1',
      reduceOnly: true,
    });
    await t.redis.xadd(
      t.keys.applyResultStream,
      '*',
      'symbol',
      'ETHUSDT',
      'executed',
      'true',
      'side',
      'BUY',
      'filled_qty',
      '1',
      'reduceOnly',
      'true',
    );
    await waitFor(async () =>
      (await t.redis.hget(t.keys.ledger('ETHUSDT'), 'ledger_amt')) === '-1' ? true : null,
    );
    await waitFor(async () => ((await snapshotAmount('ETHUSDT')) === '-1' ? true : null));
    expect(await t.redis.hget(t.keys.snapshot('ETHUSDT'), 'side')).toBe('SHORT');
    expect(await t.redis.hget(t.keys.ledger('ETHUSDT'), 'ledger_side')).toBe('SHORT');
    await addPlan(t.redis, t.keys, 's2', 'ETHUSDT', { action: 'FULL_CLOSE' });
    expect(await waitForPermit(t.redis, t.keys, 's2')).toMatchObject({
      allow: true,
      safe_close_qty: 1,
      exchange_position_amt: -1,
      ledger_position_amt: -1,
    });
  });

  it('a slow exchange (2 s per poll) never delays permits', async () => {
    rig.venue.control.setPosition('BTCUSDT', '0.038');
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '0.038');
    await heartbeatFromReconcile();
    await start();
    await waitFor(async () => ((await snapshotAmount('BTCUSDT')) === '0.038' ? true : null));
    await waitFor(() =>
      t.redis.exists(t.keys.symbolLotSize('BTCUSDT')).then((n) => (n === 1 ? true : null)),
    );
    rig.venue.control.addFault({ kind: 'latency', ms: 2000, path: '/fapi/v2/positionRisk' });
    // Wait until a slow poll has reached the venue and is being held there.
    const completed = await pollsOk();
    rig.venue.control.resetRequestCounts();
    await waitFor(() =>
      Promise.resolve(rig.venue.control.requestCounts()['/fapi/v2/positionRisk'] ? true : null),
    );
    // Polls never overlap: while this one is held, no poll can complete.
    const inFlightSince = await pollsOk();
    for (let i = 0; i < 20; i += 1) await addPlan(t.redis, t.keys, `fast-${i}`, 'BTCUSDT');
    for (let i = 0; i < 20; i += 1)
      expect(await waitForPermit(t.redis, t.keys, `fast-${i}`)).toMatchObject({ allow: true });
    // Every permit was written while that poll was still held by the venue.
    expect(await pollsOk()).toBe(inFlightSince);
    expect(inFlightSince).toBeGreaterThanOrEqual(completed);
  });

  it('429 Retry-After 2: snapshots go stale, permits deny stale_exchange_state, then everything recovers', async () => {
    rig.venue.control.setPosition('BTCUSDT', '0.038');
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '0.038');
    await heartbeatFromReconcile();
    await start({ P33_POLL_SEC: '0.1', P33_STALE_THRESHOLD_SEC: '0.6', P33_COOLDOWN_SEC: '0' });
    await waitFor(async () => ((await snapshotAmount('BTCUSDT')) === '0.038' ? true : null));
    await waitFor(() =>
      t.redis.exists(t.keys.symbolLotSize('BTCUSDT')).then((n) => (n === 1 ? true : null)),
    );
    rig.venue.control.addFault({ kind: 'http_429', retryAfterSec: 2, count: 1 });
    const pausedAt = Date.now();
    await waitFor(
      () =>
        Promise.resolve((service!.poller.lastSuccessMs() ?? 0) < Date.now() - 700 ? true : null),
      5000,
      20,
    );
    await addPlan(t.redis, t.keys, 'during', 'BTCUSDT');
    expect(await waitForPermit(t.redis, t.keys, 'during')).toMatchObject({
      allow: false,
      reason: 'stale_exchange_state',
    });
    // Recovery: a fresh poll after the pause, then ALLOW again.
    await waitFor(
      () => Promise.resolve((service!.poller.lastSuccessMs() ?? 0) > pausedAt + 1500 ? true : null),
      10_000,
      20,
    );
    await addPlan(t.redis, t.keys, 'after', 'BTCUSDT');
    expect(await waitForPermit(t.redis, t.keys, 'after')).toMatchObject({
      allow: true,
      safe_close_qty: 0.028,
    });
    const text = await metricsText();
    expect(text).toMatch(/p33_exchange_rate_limited_total [1-9]/);
    expect(text).toMatch(
      /p33_exchange_errors_total\{endpoint="\/fapi\/v2\/positionRisk",code="[^"]+"\} 1/,
    );
    expect(text).toMatch(/p33_poll_total\{outcome="skipped_rate_limited"\} [1-9]/);
  });

  it('without API credentials it starts, says which variables are missing, and denies', async () => {
    await heartbeatFromReconcile();
    await start({ BINANCE_API_KEY: '', BINANCE_API_SECRET: '' });
    await addPlan(t.redis, t.keys, 'nokey', 'BTCUSDT');
    expect(await waitForPermit(t.redis, t.keys, 'nokey')).toMatchObject({
      allow: false,
      reason: 'no_exchange_snapshot',
    });
    expect(
      logs.lines.some(
        (l) => l.msg.includes('BINANCE_API_KEY') && l.msg.includes('BINANCE_API_SECRET'),
      ),
    ).toBe(true);
    expect(await t.redis.exists(t.keys.snapshot('BTCUSDT'))).toBe(0);
  });

  it('starts without reporting a Redis outage that did not happen', async () => {
    await start();
    // Every component has done its first round against Redis: both groups, a poll, a beat.
    await waitFor(async () => {
      const [plans, results] = await Promise.all([
        groupNames(t.redis, t.keys.applyPlanStream),
        groupNames(t.redis, t.keys.applyResultStream),
      ]);
      return (
        plans.includes(PLAN_GROUP) &&
        results.includes(RESULT_GROUP) &&
        (await pollsOk()) >= 1 &&
        (await t.redis.exists(t.keys.brainHeartbeat)) === 1
      );
    });
    const errors = logs.lines.filter((l) => l.level >= 50).map((l) => JSON.stringify(l));
    expect(errors.filter((l) => /redis|writeable|stream consumer|heartbeat/i.test(l))).toEqual([]);
  });

  it('serves the seed metric names, /healthz, /readyz, a heartbeat, and never logs the secret', async () => {
    rig.venue.control.setPosition('BTCUSDT', '0.038');
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '0.038');
    await heartbeatFromReconcile();
    await start();
    await waitFor(async () => ((await snapshotAmount('BTCUSDT')) === '0.038' ? true : null));
    await waitFor(() =>
      t.redis.exists(t.keys.symbolLotSize('BTCUSDT')).then((n) => (n === 1 ? true : null)),
    );
    await addPlan(t.redis, t.keys, 'm1', 'BTCUSDT');
    await waitForPermit(t.redis, t.keys, 'm1');
    await t.redis.xadd(
      t.keys.applyResultStream,
      '*',
      'symbol',
      'BTCUSDT',
      'executed',
      'true',
      'side',
      'SELL',
      'filled_qty',
      '0.001',
    );
    await waitFor(async () =>
      (await t.redis.hget(t.keys.ledger('BTCUSDT'), 'ledger_amt')) === '0.037' ? true : null,
    );
    // The gauges read Redis at the scrape.
    const text = await waitFor(
      async () => {
        const scraped = await metricsText();
        return scraped.includes('p33_ledger_amt{symbol="BTCUSDT"} 0.037') && scraped;
      },
      { everyMs: 100 },
    );
    for (const name of [
      'p33_snapshot_total{symbol="BTCUSDT",status="ok"}',
      'p33_ledger_update_total{symbol="BTCUSDT"}',
      'p33_permit_total{symbol="BTCUSDT",decision="allow"}',
      'p33_last_snapshot_ts{symbol="BTCUSDT"}',
      'p33_position_amt{symbol="BTCUSDT"}',
      'p33_ledger_amt{symbol="BTCUSDT"} 0.037',
      'p33_snapshot_age_sec{symbol="BTCUSDT"}',
      'p33_evaluation_duration_seconds_count',
      'p33_plan_lag_seconds_count',
      'p33_poll_duration_seconds_count',
      'p33_exchange_used_weight_1m',
    ]) {
      expect(text, name).toContain(name);
    }
    const ready = await fetch(`http://127.0.0.1:${service!.httpPort}/readyz`);
    expect(ready.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${service!.httpPort}/healthz`)).status).toBe(200);
    const beat = JSON.parse((await t.redis.get(t.keys.brainHeartbeat))!) as Record<string, unknown>;
    expect(beat).toMatchObject({ consumer: 'brain-test' });
    expect(await t.redis.pttl(t.keys.brainHeartbeat)).toBeGreaterThan(0);
    expect(logs.text()).not.toContain(API_SECRET);
  });

  it('P33_USER_STREAM=true: ACCOUNT_UPDATE writes the snapshot at once; every reconnect reseeds from REST', async () => {
    await start({ P33_USER_STREAM: 'true', P33_POLL_SEC: '60' });
    await waitFor(async () => ((await snapshotAmount('BTCUSDT')) === '0' ? true : null));
    await waitFor(() => Promise.resolve(rig.venue.control.wsConnections() === 1 ? true : null));
    // The start poll and the connect reseed (a second REST poll) have both been sent...
    await waitFor(() =>
      Promise.resolve(
        (rig.venue.control.requestCounts()['/fapi/v2/positionRisk'] ?? 0) >= 2 ? true : null,
      ),
    );
    await waitFor(async () => (await metricSum('p33_poll_total')) >= 2); // ...and answered.
    rig.venue.control.setPosition('BTCUSDT', '-0.7');
    await waitFor(async () => ((await snapshotAmount('BTCUSDT')) === '-0.7' ? true : null), 5000);
    expect(await t.redis.hget(t.keys.snapshot('BTCUSDT'), 'source')).toBe('ws');
    rig.venue.control.resetRequestCounts();
    expect(rig.venue.control.dropWebSockets()).toBe(1);
    await waitFor(
      () =>
        Promise.resolve(rig.venue.control.requestCounts()['/fapi/v2/positionRisk'] ? true : null),
      10_000,
    );
    await waitFor(async () =>
      (await t.redis.hget(t.keys.snapshot('BTCUSDT'), 'source')) === 'rest' ? true : null,
    );
    expect(await snapshotAmount('BTCUSDT')).toBe('-0.7');
  });

  it('stops gracefully: after stop() plans are no longer read nor answered', async () => {
    await heartbeatFromReconcile();
    await start();
    await waitFor(async () =>
      (await groupNames(t.redis, t.keys.applyPlanStream)).includes(PLAN_GROUP),
    );
    await service!.stop();
    service = null;
    await addPlan(t.redis, t.keys, 'late', 'BTCUSDT');
    // A reader still blocked in the group would have been handed the plan by the XADD; the
    // plan is still undelivered, so another reader of the group gets it.
    const read = (await t.redis.xreadgroup(
      'GROUP',
      PLAN_GROUP,
      'probe',
      'COUNT',
      10,
      'STREAMS',
      t.keys.applyPlanStream,
      '>',
    )) as [string, [string, string[]][]][] | null;
    const planIds = (read?.[0]?.[1] ?? []).map(
      ([, fields]) => fields[fields.indexOf('plan_id') + 1],
    );
    expect(planIds).toEqual(['late']);
    expect(await t.redis.get(t.keys.permitP33('late'))).toBeNull();
  });
});

describe('brain service — Redis outage', () => {
  let server: EmbeddedRedis;
  afterEach(async () => {
    await service?.stop();
    service = null;
    await server.stop();
  });

  it('keeps running through a Redis outage, logs it once, and answers plans again after Redis returns', async () => {
    server = await startEmbeddedRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    const direct = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    direct.on('error', () => undefined);
    const keys = buildKeys(t.prefix);
    rig.venue.control.setPosition('BTCUSDT', '0.038');
    await writeLedger(direct, keys, 'BTCUSDT', '0.038');
    await direct.set(keys.reconcileHeartbeat, '{}', 'PX', 600_000);
    await start({ REDIS_URL: server.url });
    await waitFor(async () =>
      (await direct.hget(keys.snapshot('BTCUSDT'), 'position_amt')) === '0.038' ? true : null,
    );
    await waitFor(() =>
      direct.exists(keys.symbolLotSize('BTCUSDT')).then((n) => (n === 1 ? true : null)),
    );
    await addPlan(direct, keys, 'before', 'BTCUSDT');
    expect(await waitForPermit(direct, keys, 'before')).toMatchObject({ allow: true });

    const errorsBefore = await metricSum('p33_loop_errors_total');
    await server.kill();
    // The outage is seen and lasts several failed rounds before Redis comes back.
    await waitFor(() => logs.matching('redis unreachable').length > 0);
    await waitFor(async () => (await metricSum('p33_loop_errors_total')) >= errorsBefore + 5);
    await server.restart();
    const restartedAt = Date.now();
    await waitFor(async () => ((await direct.ping().catch(() => null)) === 'PONG' ? true : null));
    await addPlan(direct, keys, 'after-outage', 'BTCUSDT');
    const after = await waitForPermit(direct, keys, 'after-outage', 15_000);
    expect(after, JSON.stringify(after)).toMatchObject({ plan_id: 'after-outage', allow: true });
    if (process.env.BRAIN_REPORT)
      console.log(`permit ${Date.now() - restartedAt} ms after redis-server restarted`);
    const outageLines = logs.matching('redis unreachable');
    expect(outageLines).toHaveLength(1);
    expect(logs.matching('redis reachable again')).not.toEqual([]);
    direct.disconnect();
  });
});
