/**
 * The brain's stream consumers (plan evaluator + ledger updater) composed in-process from
 * their library APIs, on production connections (`createRedis`: no offline queue, fast
 * fail, reconnect forever), for the reliability suites. Logs are captured as JSON lines.
 */
import type { Redis } from 'ioredis';
import { LedgerUpdater } from '../../src/brain/ledger-updater.js';
import { type BrainMetrics, createBrainMetrics } from '../../src/brain/metrics.js';
import { PlanEvaluator } from '../../src/brain/plan-evaluator.js';
import type { RuleConfig } from '../../src/domain/permit-rules.js';
import type { Clock } from '../../src/domain/time.js';
import { createRedis } from '../../src/redis/connection.js';
import type { Keys } from '../../src/redis/keys.js';
import { systemClock } from '../../src/runtime/clock.js';
import { type LogLine, captureLogs } from './logs.js';
import { waitFor } from './wait.js';

export type { LogLine } from './logs.js';

export const RULES: RuleConfig = {
  staleThresholdSec: 10,
  cooldownSec: 0,
  qtyTolerancePct: 1,
  planMaxAgeSec: 30,
  requireReconcile: true,
};

export interface BrainPieces {
  evaluator: PlanEvaluator;
  updater: LedgerUpdater;
  metrics: BrainMetrics;
  lines: LogLine[];
  connections: Redis[];
  /** Resolves once both consumer groups exist (the result group starts at '$'). */
  ready(): Promise<void>;
  stop(): Promise<void>;
}

export interface BrainPiecesOptions {
  url: string;
  keys: Keys;
  allowlist: readonly string[];
  clock?: Clock;
  consumer?: string;
  rules?: RuleConfig;
  claimIdleMs?: number;
  claimEveryMs?: number;
}

/** Starts both consumers. `stop()` stops them and closes every connection. */
export function startBrainPieces(options: BrainPiecesOptions): BrainPieces {
  const clock = options.clock ?? systemClock;
  const consumer = options.consumer ?? 'brain-1';
  const { logger, lines } = captureLogs('info');
  const metrics = createBrainMetrics();
  const open = (name: string): Redis => {
    const r = createRedis({ url: options.url, db: 0 }, { name });
    r.on('error', () => undefined);
    return r;
  };
  const connections = [open('plan-reader'), open('result-reader'), open('writer')];
  const [planReader, resultReader, writer] = connections as [Redis, Redis, Redis];
  const common = {
    redis: writer,
    keys: options.keys,
    consumer,
    allowlist: options.allowlist,
    clock,
    metrics,
    logger,
    blockMs: 100,
    claimIdleMs: options.claimIdleMs ?? 2000,
    claimEveryMs: options.claimEveryMs ?? 500,
  };
  const evaluator = new PlanEvaluator({
    ...common,
    reader: planReader,
    rules: options.rules ?? RULES,
    permitTtlSec: 600,
    planSeenTtlSec: 3600,
  });
  const updater = new LedgerUpdater({
    ...common,
    reader: resultReader,
    ledgerTtlSec: 86400,
    markerTtlSec: 86400,
  });
  evaluator.start();
  updater.start();
  return {
    evaluator,
    updater,
    metrics,
    lines,
    connections,
    ready: async () => {
      const writerConn = connections[2] as Redis;
      await waitFor(async () => {
        const [plans, results] = await Promise.all([
          groupNames(writerConn, options.keys.applyPlanStream),
          groupNames(writerConn, options.keys.applyResultStream),
        ]);
        return plans.length > 0 && results.length > 0;
      });
    },
    stop: async () => {
      await Promise.all([evaluator.stop(), updater.stop()]);
      for (const c of connections) c.disconnect();
    },
  };
}

export async function counterValue(
  metrics: { registry: { getSingleMetric(name: string): unknown } },
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name) as
    | { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }
    | undefined;
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** The shared bounded wait (test/helpers/wait.ts), under the name the reliability suites use. */
export { waitFor as until } from './wait.js';

export async function groupNames(redis: Redis, stream: string): Promise<string[]> {
  try {
    const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    return groups.map((g) => String(g[1]));
  } catch {
    return [];
  }
}

/** Entries of a group not yet acknowledged (0 when the group does not exist yet). */
export async function pending(redis: Redis, stream: string, group: string): Promise<number> {
  try {
    const summary = (await redis.xpending(stream, group)) as [number, ...unknown[]];
    return Number(summary[0]);
  } catch {
    return -1;
  }
}

/** Entries not yet delivered to a group (`lag`), -1 when unknown. */
export async function undelivered(redis: Redis, stream: string, group: string): Promise<number> {
  try {
    const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    for (const g of groups) {
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < g.length; i += 2) info[String(g[i])] = g[i + 1];
      if (info.name !== group) continue;
      const lastDelivered = String(info['last-delivered-id']);
      const rest = await redis.xrange(stream, `(${lastDelivered}`, '+', 'COUNT', 1);
      return rest.length;
    }
    return -1;
  } catch {
    return -1;
  }
}

/** True once the group has delivered and acknowledged every entry of the stream. */
export async function drained(redis: Redis, stream: string, group: string): Promise<boolean> {
  return (
    (await pending(redis, stream, group)) === 0 && (await undelivered(redis, stream, group)) === 0
  );
}
