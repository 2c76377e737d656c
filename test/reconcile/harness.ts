/**
 * Drives a real ReconcileEngine against the run's Redis with a manual clock, and captures
 * its logs so tests can count lines.
 */
import type { Redis } from 'ioredis';
import { type Config, loadConfig } from '../../src/config/config.js';
import type { Clock } from '../../src/domain/time.js';
import { ReconcileEngine } from '../../src/reconcile/engine.js';
import { type ReconcileMetrics, createReconcileMetrics } from '../../src/reconcile/metrics.js';
import type { Keys } from '../../src/redis/keys.js';
import { type CapturedLogs, type LogLine, captureLogs } from '../helpers/logs.js';

export { ManualClock } from '../helpers/manual-time.js';
export type { LogLine } from '../helpers/logs.js';

/** The engine's logs, debug level included (test/helpers/logs.ts). */
export const captureLogger = (): CapturedLogs => captureLogs('debug');

export function testConfig(
  prefix: string,
  redisUrl: string,
  env: Record<string, string> = {},
): Readonly<Config> {
  return loadConfig({
    REDIS_URL: redisUrl,
    KEY_PREFIX: prefix,
    P34_ALLOWLIST: 'BTCUSDT',
    P34_PROMETHEUS_PORT: '0',
    ...env,
  });
}

export interface EngineHarness {
  engine: ReconcileEngine;
  metrics: ReconcileMetrics;
  lines: LogLine[];
  config: Readonly<Config>;
}

export function makeEngine(
  redis: Redis,
  keys: Keys,
  clock: Clock,
  options: { url: string; env?: Record<string, string> },
): EngineHarness {
  const config = testConfig(keys.prefix, options.url, options.env);
  const metrics = createReconcileMetrics();
  const { logger, lines } = captureLogger();
  const engine = new ReconcileEngine({
    redis,
    keys,
    reconcile: config.reconcile,
    ledger: config.ledger,
    clock,
    logger,
    metrics,
    identity: { pid: 4242, host: 'test-host' },
  });
  return { engine, metrics, lines, config };
}

export interface EventRecord {
  id: string;
  fields: Record<string, string>;
}

export async function readEvents(redis: Redis, keys: Keys): Promise<EventRecord[]> {
  const entries = await redis.xrange(keys.reconcileEventsStream, '-', '+');
  return entries.map(([id, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
    return { id, fields };
  });
}

export async function metricValue(
  metrics: ReconcileMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as {
    value: number;
    labels: Record<string, string | number>;
  }[];
  const found = values.find((v) =>
    Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val),
  );
  return found?.value ?? 0;
}
