/**
 * Starts everything the demo shows, in-process, each with its own Redis connections:
 * a private redis-server (or REDIS_URL with a unique `demo-…` key prefix), the simulated
 * venue, the brain, the reconcile engine (stoppable and restartable for the engine-down
 * step) and their metrics endpoints. `stop()` undoes all of it, in reverse order.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { Redis } from 'ioredis';
import { startBrain, type BrainService } from '../../brain/service.js';
import { type Config, loadConfig } from '../../config/config.js';
import type { Clock } from '../../domain/time.js';
import { errorMessage } from '../../errors.js';
import { type Logger, redactUrl } from '../../observability/logger.js';
import { createRedis, waitForReady } from '../../redis/connection.js';
import { type EmbeddedRedis, freePort, startEmbeddedRedis } from '../redis-server.js';
import { type ReconcileService, startReconcileService } from '../../reconcile/service.js';
import { type Venue, startVenue } from '../venue/venue.js';
import { DEMO_API_KEY, DEMO_API_SECRET, DEMO_TARGETS, demoEnv } from './settings.js';
import type { EngineControl } from './step-context.js';

export interface DemoServices {
  config: Readonly<Config>;
  env: Record<string, string>;
  redisMode: 'embedded' | 'external';
  redisLabel: string;
  venue: Venue;
  brain: BrainService;
  engine: EngineControl & { running(): boolean };
  brainMetricsUrl: string;
  reconcileMetricsUrl: string;
  /** Extra connections for the observer (blocking tail + reads). */
  observerReader: Redis;
  observerRedis: Redis;
  stop(): Promise<void>;
}

export interface ServiceOptions {
  /** REDIS_URL / REDIS_DB from the caller's environment; absent → private redis-server. */
  redisUrl?: string;
  redisDb?: string;
  symbols: readonly string[];
  clock: Clock;
  logger: Logger;
}

/** The preferred port when it is free, else any free port. */
async function portOrFree(preferred: number): Promise<number> {
  const free = await new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(preferred, '127.0.0.1', () => server.close(() => resolve(true)));
  });
  return free ? preferred : freePort();
}

type Cleanup = () => Promise<void>;

async function runCleanups(cleanups: Cleanup[], logger: Logger): Promise<void> {
  for (const cleanup of cleanups.reverse()) {
    await cleanup().catch((error: unknown) =>
      logger.warn({ err: errorMessage(error) }, 'demo: cleanup step failed'),
    );
  }
}

export async function startDemoServices(options: ServiceOptions): Promise<DemoServices> {
  const { logger, clock, symbols } = options;
  const cleanups: Cleanup[] = [];
  try {
    let embedded: EmbeddedRedis | null = null;
    if (options.redisUrl === undefined) {
      embedded = await startEmbeddedRedis();
      const server = embedded;
      cleanups.push(() => server.stop());
    }
    const keyPrefix = `demo-${randomBytes(4).toString('hex')}`;
    const venue = await startVenue({
      port: 0,
      apiKey: DEMO_API_KEY,
      apiSecret: DEMO_API_SECRET,
      symbols: [...symbols],
      clock,
    });
    cleanups.push(() => venue.close());
    for (const symbol of symbols) {
      const target = DEMO_TARGETS.get(symbol);
      if (target) venue.control.setPosition(symbol, target.toFixed());
    }
    const env = demoEnv({
      redisUrl: embedded?.url ?? (options.redisUrl as string),
      ...(options.redisDb === undefined ? {} : { redisDb: options.redisDb }),
      keyPrefix,
      baseUrl: venue.baseUrl,
      wsUrl: venue.wsUrl,
      brainPort: await portOrFree(8045),
      reconcilePort: await portOrFree(8046),
      symbols,
    });
    const config = loadConfig(env);
    const [observerReader, observerRedis] = [0, 1].map(() =>
      createRedis(config.redis, { name: 'posguard-demo-observer' }),
    ) as [Redis, Redis];
    for (const c of [observerReader, observerRedis]) {
      c.on('error', () => undefined);
      cleanups.push(() =>
        c.quit().then(
          () => undefined,
          () => c.disconnect(),
        ),
      );
    }
    await Promise.all([waitForReady(observerReader), waitForReady(observerRedis)]);
    if (embedded === null) cleanups.push(() => deletePrefix(observerRedis, keyPrefix));
    const brain = await startBrain({
      config,
      clock,
      logger: logger.child({ service: 'brain' }),
      consumer: `demo-brain`,
    });
    cleanups.push(() => brain.stop());
    const engine = engineControl(config, clock, logger.child({ service: 'reconcile' }));
    await engine.start();
    cleanups.push(() => engine.stop());
    return {
      config,
      env,
      redisMode: embedded ? 'embedded' : 'external',
      redisLabel: embedded
        ? `private redis-server on port ${embedded.port} (temporary, no persistence)`
        : `${redactUrl(config.redis.url)} with key prefix ${keyPrefix}: (demo keys only; deleted at the end)`,
      venue,
      brain,
      engine,
      brainMetricsUrl: `http://${config.brain.metricsHost}:${brain.httpPort}/metrics`,
      reconcileMetricsUrl: `http://${config.reconcile.metricsHost}:${config.reconcile.metricsPort}/metrics`,
      observerReader,
      observerRedis,
      stop: () => runCleanups(cleanups, logger),
    };
  } catch (error) {
    await runCleanups(cleanups, logger);
    throw error;
  }
}

function engineControl(
  config: Readonly<Config>,
  clock: Clock,
  logger: Logger,
): EngineControl & { running(): boolean } {
  let service: ReconcileService | null = null;
  return {
    running: () => service !== null,
    start: async () => {
      if (service) return;
      service = await startReconcileService({ config, logger, clock });
    },
    stop: async () => {
      const current = service;
      service = null;
      await current?.stop();
    },
  };
}

/** Removes every key under the demo's own prefix (SCAN, never KEYS) from a shared Redis. */
async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}
