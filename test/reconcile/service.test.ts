/**
 * The running service: /metrics with the seed names, /readyz, and surviving a Redis that
 * is killed and restarted mid-run (logged once per outage, counted, resumed).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../src/dev/redis-server.js';
import { type ReconcileService, startReconcileService } from '../../src/reconcile/service.js';
import { buildKeys } from '../../src/redis/keys.js';
import { Redis } from 'ioredis';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import {
  T0,
  flatResult,
  addResult,
  ledgerFields,
  snapshotFields,
  writeSymbol,
} from './fixtures.js';
import { captureLogger, metricValue, testConfig } from './harness.js';

describe('reconcile service', () => {
  let service: ReconcileService | undefined;
  let t: TestRedis | undefined;
  let server: EmbeddedRedis | undefined;

  afterEach(async () => {
    await service?.stop();
    service = undefined;
    await t?.close();
    t = undefined;
    await server?.stop();
    server = undefined;
  });

  it('serves the five seed metrics after a cycle, and /readyz', async () => {
    t = openTestRedis('rm');
    const now = Date.now();
    await addResult(
      t.redis,
      t.keys,
      `${now - 5000}-0`,
      flatResult('BTCUSDT', 'SELL', '0.001', now - 5000),
    );
    await writeSymbol(t.redis, t.keys, 'BTCUSDT', {
      snapshot: snapshotFields('0.1', now - 200),
      ledger: ledgerFields('0.101', now - 60_000),
    });
    await writeSymbol(t.redis, t.keys, 'ETHUSDT', { ledger: ledgerFields('1', now - 60_000) });
    const config = testConfig(t.prefix, t.url, {
      P34_ALLOWLIST: 'BTCUSDT,ETHUSDT',
      P34_LOOP_CADENCE_SEC: '0.05',
    });
    service = await startReconcileService({ config, logger: captureLogger().logger });
    const started = service;
    await waitFor(
      async () =>
        (await metricValue(started.metrics, 'p34_reconcile_auto_repair_total', {
          symbol: 'BTCUSDT',
        })) === 1,
    );
    const base = `http://127.0.0.1:${service.http?.port}`;
    const body = await (await fetch(`${base}/metrics`)).text();
    for (const name of [
      'p34_reconcile_drift_total',
      'p34_reconcile_auto_repair_total',
      'p34_reconcile_hold_active',
      'p34_reconcile_diff_amt',
      'p34_reconcile_last_fix_age_sec',
    ]) {
      expect(body).toMatch(new RegExp(`^${name}\\{[^}]*symbol="BTCUSDT"[^}]*\\} `, 'm'));
    }
    expect(body).toMatch(/^p34_reconcile_hold_active\{symbol="ETHUSDT"\} 1$/m);
    expect(body).toMatch(
      /^p34_reconcile_drift_total\{symbol="ETHUSDT",reason="missing_exchange"\} 1$/m,
    );
    expect(body).toMatch(/^p34_cycle_duration_seconds_count \d+/m);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { redis: true, recentCycle: true } });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('a snapshot change published by the brain wakes the loop between slots (30 s cadence)', async () => {
    t = openTestRedis('rw');
    const test = t;
    const now = Date.now();
    await writeSymbol(t.redis, t.keys, 'BTCUSDT', {
      snapshot: snapshotFields('0.1', now - 100),
      ledger: ledgerFields('0.1', now - 60_000),
    });
    const config = testConfig(t.prefix, t.url, {
      P34_ALLOWLIST: 'BTCUSDT',
      P34_LOOP_CADENCE_SEC: '30',
    });
    service = await startReconcileService({ config, logger: captureLogger().logger, http: false });
    await waitFor(
      async () => (await test.redis.hget(test.keys.reconcileState('BTCUSDT'), 'status')) === 'OK',
    );
    // A manual trade: the brain writes the new snapshot and publishes the symbol.
    await writeSymbol(t.redis, t.keys, 'BTCUSDT', { snapshot: snapshotFields('0.07', Date.now()) });
    await waitFor(
      async () => (await test.redis.pubsub('NUMSUB', test.keys.snapshotChangedChannel)).at(1) === 1,
    );
    await t.redis.publish(t.keys.snapshotChangedChannel, 'ETHUSDT,BTCUSDT');
    // Well before the next 30 s slot: the woken cycle holds the symbol.
    await waitFor(async () => (await test.redis.exists(test.keys.hold('BTCUSDT'))) === 1, 10_000);
    expect(await t.redis.hget(t.keys.reconcileState('BTCUSDT'), 'reason')).toBe(
      'qty_mismatch_no_evidence',
    );
  });

  it('survives Redis being killed mid-run: logs once, counts failures, resumes (NOSCRIPT after restart)', async () => {
    server = await startEmbeddedRedis();
    const prefix = 'outage';
    const keys = buildKeys(prefix);
    const admin = new Redis(server.url, {
      maxRetriesPerRequest: 1,
      lazyConnect: true,
      retryStrategy: () => 50,
    });
    admin.on('error', () => undefined);
    await admin.connect();
    const seed = async (): Promise<void> => {
      const now = Date.now();
      await writeSymbol(admin, keys, 'BTCUSDT', {
        snapshot: snapshotFields('0.062', now - 100),
        ledger: ledgerFields('0.05', now - 60_000),
      });
    };
    await seed();
    const capture = captureLogger();
    const config = testConfig(prefix, server.url, { P34_LOOP_CADENCE_SEC: '0.05' });
    service = await startReconcileService({ config, logger: capture.logger, http: false });
    const svc = service;
    await waitFor(
      async () => (await admin.hget(keys.reconcileState('BTCUSDT'), 'status')) === 'HOLD',
    );

    await server.kill();
    await waitFor(async () => (await metricValue(svc.metrics, 'p34_cycle_failures_total')) >= 5);
    await server.restart();
    await waitFor(() => admin.status === 'ready');
    await seed();
    // Redis lost everything (no persistence): the engine must re-hold without any help.
    await waitFor(
      async () =>
        (await admin.hget(keys.reconcileState('BTCUSDT'), 'reason')) === 'qty_mismatch_no_evidence',
    );
    expect(await admin.get(keys.hold('BTCUSDT'))).toBe('1');
    const messages = capture.lines.map((l) => l.msg);
    expect(messages.filter((m) => m === 'redis unavailable, cycle skipped')).toHaveLength(1);
    expect(messages.filter((m) => m === 'redis back')).toHaveLength(1);
    expect(messages.indexOf('redis unavailable, cycle skipped')).toBeLessThan(
      messages.indexOf('redis back'),
    );
    admin.disconnect();
  });

  it('stop() finishes the current cycle and resolves the loop', async () => {
    t = openTestRedis('rq');
    await writeSymbol(t.redis, t.keys, 'BTCUSDT', {
      snapshot: snapshotFields('0.062', T0),
      ledger: ledgerFields('0.062', T0),
    });
    const config = testConfig(t.prefix, t.url, { P34_LOOP_CADENCE_SEC: '0.05' });
    const svc = await startReconcileService({
      config,
      logger: captureLogger().logger,
      http: false,
    });
    await svc.stop();
    await expect(svc.done).resolves.toBeUndefined();
    expect(await t.redis.exists(t.keys.reconcileHeartbeat)).toBe(1);
  });
});
