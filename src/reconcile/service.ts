/**
 * Composition root of the Reconcile Engine service: Redis, metrics endpoint, engine, loop.
 * `stop()` lets the current cycle finish, then closes everything.
 *
 * Several instances (SPEC §11): every instance campaigns for the `reconcile` lease; the loop
 * runs cycles only while this instance leads, and every write of a cycle (commits, steady
 * rows, heartbeat) carries the lease's epoch, so a paused former leader writes nothing. A
 * new term — an election, or a master switch (leases dropped, re-elected) — starts from a
 * fresh read of the current master (`engine.newTerm()`) and runs its first cycle at once;
 * the heartbeat is the last write of that full cycle.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { defaultInstanceId, takeoverBudget } from '../domain/leadership.js';
import { HaInstance } from '../redis/ha/ha-instance.js';
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
  readonly instanceId: string;
  /** Leases, presence and HA metrics of this instance (SPEC §11). */
  readonly ha: HaInstance;
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
  /** This instance's id (default: POSGUARD_INSTANCE_ID, else hostname:pid). */
  instanceId?: string;
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
  const instanceId =
    options.instanceId ?? config.ha.instanceId ?? defaultInstanceId(hostname(), process.pid);
  const waker = new Waker();
  let engine: ReconcileEngine | null = null;
  const leaseRedis = createRedis(config.redis, { name: 'posguard-reconcile-lease' });
  leaseRedis.on('error', () => undefined);
  const ha = new HaInstance({
    redis: leaseRedis,
    keys,
    service: 'reconcile',
    instanceId,
    roles: ['reconcile'],
    leaseMs: config.ha.leaseMs,
    registry: metrics.registry,
    logger,
    watch: [redis],
    clock,
    handlers: {
      // A new term reads everything afresh and runs its first full cycle now, not at the
      // next slot: the takeover ends before the old leader's heartbeat lapses.
      onElected: () => {
        engine?.newTerm();
        waker.wake();
      },
      onLost: () => undefined,
    },
  });
  const term = ha.term('reconcile');
  const budget = takeoverBudget(
    config.ha.leaseMs,
    config.reconcile.cadenceSec,
    heartbeatTtlMs(config.reconcile.cadenceSec),
  );
  if (!budget.ok) {
    logger.warn(
      {
        leaseMs: config.ha.leaseMs,
        worstGapMs: budget.worstGapMs,
        heartbeatTtlMs: budget.heartbeatTtlMs,
      },
      'POSGUARD_LEASE_MS is too long for the heartbeat: if this leader dies, permits deny reconcile_engine_down until a standby takes over (posguard doctor says what to set)',
    );
  }
  engine = new ReconcileEngine({
    redis,
    keys,
    reconcile: config.reconcile,
    ledger: config.ledger,
    clock,
    logger,
    metrics,
    term,
    instanceId,
  });
  const runner = new CycleRunner(engine, redis, clock, metrics, logger);
  const freshWithinMs = heartbeatTtlMs(config.reconcile.cadenceSec);
  const leading = (): boolean => term.epoch() !== null;
  let http: HttpEndpoint | null = null;
  try {
    if (options.http ?? true) {
      http = await startHttpEndpoint({
        host: config.reconcile.metricsHost,
        port: config.reconcile.metricsPort,
        registry: metrics.registry,
        // A standby runs no cycles: it is ready while Redis answers.
        readiness: {
          checks: () => {
            const health = runner.healthy(freshWithinMs);
            return { ...health, recentCycle: health.recentCycle || !leading() };
          },
        },
      });
    }
  } catch (error) {
    redis.disconnect();
    leaseRedis.disconnect();
    throw error;
  }
  // Give the connection a moment so the first cycle does not report a start-up "outage";
  // if Redis is really down the loop starts anyway and counts failed cycles.
  await Promise.all(
    [redis, leaseRedis].map((r) => waitForReady(r, READY_WAIT_MS).catch(() => undefined)),
  );
  // The first round decides whether this instance leads before the loop's first slot.
  await ha.start();
  const subscriber = subscribeToSnapshotChanges(config, keys, waker, logger);
  const controller = new AbortController();
  const done = runLoop({
    waker,
    // Only the leader runs cycles; a standby's slots pass without a Redis call.
    tick: () => (leading() ? runner.tick() : Promise.resolve(false)),
    clock,
    cadenceMs: config.reconcile.cadenceSec * 1000,
    signal: controller.signal,
    sleeper: options.sleeper,
    onOverrun: () => metrics.cycleOverrunTotal.inc(),
  });
  logger.info(
    {
      instance: instanceId,
      leaseMs: config.ha.leaseMs,
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
    instanceId,
    ha,
    done,
    stop: async () => {
      controller.abort();
      await done;
      // The last cycle has finished: step down and release the lease for a standby.
      await ha.stop();
      leaseRedis.disconnect();
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
