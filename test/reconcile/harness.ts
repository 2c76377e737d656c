/**
 * Drives a real ReconcileEngine against the run's Redis with a manual clock, and captures
 * its logs so tests can count lines. The engine writes as the `reconcile` leader (SPEC
 * §11): the harness takes the role's lease under the test's prefix (test/helpers/terms.ts)
 * — or runs with the term a test passes.
 */
import type { Redis } from 'ioredis';
import { type Config, loadConfig } from '../../src/config/config.js';
import type { Clock } from '../../src/domain/time.js';
import { type EngineOptions, ReconcileEngine } from '../../src/reconcile/engine.js';
import { type ReconcileMetrics, createReconcileMetrics } from '../../src/reconcile/metrics.js';
import type { SoleTerm } from '../../src/redis/ha/sole-term.js';
import type { WriterTerm } from '../../src/redis/ha/writer-term.js';
import type { Keys } from '../../src/redis/keys.js';
import { type CapturedLogs, type LogLine, captureLogs } from '../helpers/logs.js';
import { testTerm } from '../helpers/terms.js';

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
  /** The term the engine writes with: the test's lease, once taken (before the first cycle). */
  term(): Promise<WriterTerm>;
}

/** The instance id the harness engine names in its heartbeat. */
export const HARNESS_INSTANCE = 'test:engine';

/**
 * An engine whose cycles wait for its term first: the harness takes the lease without
 * making every caller await it (an engine is built synchronously; a cycle is awaited).
 */
class TermedEngine extends ReconcileEngine {
  constructor(
    options: EngineOptions,
    private readonly ready: Promise<unknown>,
  ) {
    super(options);
  }

  override async runOnce(options?: { dryRun?: boolean }): ReturnType<ReconcileEngine['runOnce']> {
    await this.ready;
    return super.runOnce(options);
  }
}

/**
 * A real engine on the test's Redis. `term`: the one to write with (e.g. shared by two
 * engines, or one a test ends); default: the `reconcile` lease taken for the test as
 * `test:engine` — a second harness on the same prefix re-takes it with a higher epoch (its
 * own reply-was-lost path), which fences the first one's term.
 */
export function makeEngine(
  redis: Redis,
  keys: Keys,
  clock: Clock,
  options: { url: string; env?: Record<string, string>; term?: WriterTerm },
): EngineHarness {
  const config = testConfig(keys.prefix, options.url, options.env);
  const metrics = createReconcileMetrics();
  const { logger, lines } = captureLogger();
  let taken: SoleTerm | null = null;
  const ready: Promise<WriterTerm> =
    options.term !== undefined
      ? Promise.resolve(options.term)
      : testTerm(redis, keys, 'reconcile', 'engine').then((term) => (taken = term));
  ready.catch(() => undefined); // reported by the first cycle
  const term: WriterTerm = options.term ?? {
    role: 'reconcile',
    epoch: () => taken?.epoch() ?? null,
    fenced: (refusal) => taken?.fenced(refusal),
  };
  const engine = new TermedEngine(
    {
      redis,
      keys,
      reconcile: config.reconcile,
      ledger: config.ledger,
      clock,
      logger,
      metrics,
      term,
      instanceId: HARNESS_INSTANCE,
      identity: { pid: 4242, host: 'test-host' },
    },
    ready,
  );
  return { engine, metrics, lines, config, term: () => ready };
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
