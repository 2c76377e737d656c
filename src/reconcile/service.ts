/**
 * Composition root of the Reconcile Engine service: Redis, metrics endpoint, engine, loop.
 * `stop()` lets the current cycle finish, then closes everything.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import type { Clock } from '../domain/time.js';
import { type HttpEndpoint, startHttpEndpoint } from '../observability/http-server.js';
import type { Logger } from '../observability/logger.js';
import { createRedis, waitForReady } from '../redis/connection.js';
import { type Keys, buildKeys } from '../redis/keys.js';
import { type Sleeper, systemClock } from '../runtime/clock.js';
import { CycleRunner } from './cycle-runner.js';
import { ReconcileEngine } from './engine.js';
import { heartbeatTtlMs } from '../domain/reconcile-heartbeat.js';
import { Waker, runLoop } from './loop.js';
import { type ReconcileMetrics, createReconcileMetrics } from './metrics.js';

export interface ReconcileService {
  readonly engine: ReconcileEngine;
  readonly metrics: ReconcileMetrics;
  readonly http: HttpEndpoint | null;
  readonly redis: Redis;
  /** Resolves when the loop has stopped. */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

export interface ServiceOptions {
  config: Readonly<Config>;
  logger: Logger;
  clock?: Clock;
  sleeper?: Sleeper;
  /** Serve /metrics /healthz /readyz (default true). */
  http?: boolean;
}

const READY_WAIT_MS = 3000;

export async function startReconcileService(options: ServiceOptions): Promise<ReconcileService> {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  const redis = createRedis(config.redis, { name: 'posguard-reconcile' });
  // Connection errors surface as failed cycles (logged once per outage by the runner).
  redis.on('error', () => undefined);
  const metrics = createReconcileMetrics();
  const keys = buildKeys(config.keys.prefix, config.keys.governorPermitTemplate);
  const engine = new ReconcileEngine({
    redis,
    keys,
    reconcile: config.reconcile,
    ledger: config.ledger,
    clock,
    logger,
    metrics,
  });
  const runner = new CycleRunner(engine, redis, clock, metrics, logger);
  const freshWithinMs = heartbeatTtlMs(config.reconcile.cadenceSec);
  let http: HttpEndpoint | null = null;
  try {
    if (options.http ?? true) {
      http = await startHttpEndpoint({
        host: config.reconcile.metricsHost,
        port: config.reconcile.metricsPort,
        registry: metrics.registry,
        readiness: { checks: () => runner.healthy(freshWithinMs) },
      });
    }
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  // Give the connection a moment so the first cycle does not report a start-up "outage";
  // if Redis is really down the loop starts anyway and counts failed cycles.
  await waitForReady(redis, READY_WAIT_MS).catch(() => undefined);
  const waker = new Waker();
  const subscriber = subscribeToSnapshotChanges(config, keys, waker, logger);
  const controller = new AbortController();
  const done = runLoop({
    waker,
    tick: () => runner.tick(),
    clock,
    cadenceMs: config.reconcile.cadenceSec * 1000,
    signal: controller.signal,
    sleeper: options.sleeper,
    onOverrun: () => metrics.cycleOverrunTotal.inc(),
  });
  logger.info(
    {
      symbols: config.reconcile.allowlist.length,
      cadenceSec: config.reconcile.cadenceSec,
      metricsPort: http?.port ?? null,
    },
    'reconcile engine started',
  );
  return {
    engine,
    metrics,
    http,
    redis,
    done,
    stop: async () => {
      controller.abort();
      await done;
      subscriber.disconnect();
      await http?.close();
      await redis.quit().catch(() => redis.disconnect());
      logger.info('reconcile engine stopped');
    },
  };
}

/**
 * The brain publishes the symbols whose snapshot amount changed; a change for one of ours
 * wakes the loop for an extra cycle, so drift from a user-data update is seen in
 * milliseconds, not at the next slot. Best effort: without it the cadence still holds.
 */
function subscribeToSnapshotChanges(
  config: Readonly<Config>,
  keys: Keys,
  waker: Waker,
  logger: Logger,
): Redis {
  const symbols = new Set(config.reconcile.allowlist);
  const sub = createRedis(config.redis, { name: 'posguard-reconcile-wake' });
  sub.on('error', () => undefined);
  sub.on('message', (_channel: string, message: string) => {
    if (message.split(',').some((symbol) => symbols.has(symbol))) waker.wake();
  });
  sub.once('ready', () => {
    sub.subscribe(keys.snapshotChangedChannel).catch((error: unknown) => {
      logger.warn({ err: String(error) }, 'snapshot change subscription failed; cadence only');
    });
  });
  return sub;
}
