/**
 * The simulated trading pipeline around posguard's two services: planner + Governor stub,
 * Apply Layer stub (gate → venue → apply.result), position keeper and permit probe, each
 * with the Redis connection it needs. `posguard sim` runs it alone; the demo runs it next
 * to the venue, the brain and the engine.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../../config/config.js';
import type { Amount } from '../../domain/amount.js';
import type { Clock } from '../../domain/time.js';
import { binanceClientFromConfig } from '../../exchange/binance-client.js';
import type { Logger } from '../../observability/logger.js';
import { createRedis, waitForReady } from '../../redis/connection.js';
import { type Keys, buildKeys } from '../../redis/keys.js';
import { type ApplyLayerOptions, ApplyLayerStub } from './apply-layer.js';
import { KeyspacePermitProbe } from './keyspace-probe.js';
import { PermitProbe } from './permit-probe.js';
import { PlanBook } from './plan-book.js';
import { PlanReader } from './plan-reader.js';
import { Planner } from './planner.js';
import { PositionKeeper } from './position-keeper.js';
import { SymbolLocks } from './symbol-lock.js';

export interface PipelineOptions {
  config: Readonly<Config>;
  clock: Clock;
  logger: Logger;
  symbols: readonly string[];
  /** Signed position each symbol is kept at (by opening orders). */
  targets: ReadonlyMap<string, Amount>;
  ratePerSec: number;
  governorDenyFraction: number;
  keeperEveryMs: number;
  /** Apply Layer stub: how long the gate waits for a late P3.3 permit. */
  gateWaitMs?: number;
  /**
   * Time permits with keyspace notifications (CONFIG SET on the server: only for a Redis
   * the caller owns, e.g. the demo's private one). Otherwise the polling probe times them.
   */
  keyspaceNotifications?: boolean;
  /**
   * Poll for every plan's permit to time it (default true). Off under heavy load when the
   * latency is not wanted (the HA runs): it costs a GET per pending plan per ms.
   */
  permitProbe?: boolean;
  /** The Apply Layer's gate answers and orders (ha-load.ts keeps them for its checks). */
  onGate?: ApplyLayerOptions['onGate'];
  onOrder?: ApplyLayerOptions['onOrder'];
}

export interface Pipeline {
  readonly runId: string;
  readonly keys: Keys;
  readonly redis: Redis;
  readonly book: PlanBook;
  readonly planner: Planner;
  readonly apply: ApplyLayerStub;
  readonly keeper: PositionKeeper;
  /** A scenario step takes a symbol over: no rate plans, no refills for it. */
  claim(symbol: string): void;
  release(symbol: string): void;
  /** Waits until every plan published for `symbol` has been through the gate (bounded). */
  quiesce(symbol: string, timeoutMs: number): Promise<boolean>;
  readonly locks: SymbolLocks;
  stop(): Promise<void>;
}

const QUIESCE_POLL_MS = 25;

export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const { config, clock, logger } = options;
  const keys = buildKeys(config.keys.prefix, config.keys.governorPermitTemplate);
  const runId = `sim-${randomBytes(3).toString('hex')}`;
  const roles = [
    'cmd',
    'plans',
    'probe',
    ...(options.keyspaceNotifications === true ? ['keyspace'] : []),
  ];
  const connections = roles.map((role) =>
    createRedis(config.redis, { name: `posguard-sim-${role}` }),
  );
  for (const connection of connections) connection.on('error', () => undefined);
  const [redis, reader, probeRedis] = connections as [Redis, Redis, Redis];
  try {
    await Promise.all(connections.map((c) => waitForReady(c)));
  } catch (error) {
    for (const connection of connections) connection.disconnect();
    throw error;
  }
  const client = binanceClientFromConfig(config.binance, { clock, logger });
  const book = new PlanBook();
  const locks = new SymbolLocks();
  const planner = new Planner({
    redis,
    keys,
    book,
    clock,
    logger,
    symbols: options.symbols,
    ratePerSec: options.ratePerSec,
    governorDenyFraction: options.governorDenyFraction,
    governorTtlSec: Math.max(30, config.brain.permitTtlSec),
    runId,
  });
  const gateWaitMs = options.gateWaitMs ?? config.gate.waitMs;
  // The gate and the result writes WAIT for as many replicas as the brain does (SPEC §11).
  const apply = new ApplyLayerStub({
    redis,
    keys,
    client,
    book,
    locks,
    clock,
    logger,
    gateWaitMs,
    minReplicasAck: config.redis.minReplicasAck ?? 0,
    ...(config.redis.replicaWaitMs === undefined
      ? {}
      : { replicaWaitMs: config.redis.replicaWaitMs }),
    ...(options.onGate === undefined ? {} : { onGate: options.onGate }),
    ...(options.onOrder === undefined ? {} : { onOrder: options.onOrder }),
  });
  const planReader = new PlanReader({
    reader,
    redis,
    stream: keys.applyPlanStream,
    group: 'posguard-sim-apply',
    consumer: runId,
    logger,
    handle: (entry) => apply.handlePlan(entry),
  });
  const keeper = new PositionKeeper({
    client,
    apply,
    locks,
    logger,
    targets: options.targets,
    everyMs: options.keeperEveryMs,
  });
  const probe =
    options.permitProbe === false
      ? null
      : new PermitProbe({ redis: probeRedis, keys, book, clock, logger });
  const subscriber = connections[3];
  const keyspace = subscriber
    ? await KeyspacePermitProbe.start({ admin: redis, subscriber, keys, book, db: config.redis.db })
    : null;
  await client.syncTime().catch(() => undefined);
  await planReader.start();
  probe?.start();
  await keeper.tick();
  keeper.start();
  planner.start();
  return {
    runId,
    keys,
    redis,
    book,
    planner,
    apply,
    keeper,
    locks,
    claim: (symbol) => {
      planner.exclude(symbol);
      keeper.exclude(symbol);
    },
    release: (symbol) => {
      planner.release(symbol);
      keeper.release(symbol);
    },
    quiesce: async (symbol, timeoutMs) => {
      const deadline = clock.nowMs() + timeoutMs;
      const busy = (): boolean =>
        book.find(
          (p) =>
            p.symbol === symbol && p.gate === null && clock.nowMs() - p.publishedMs < timeoutMs,
        ).length > 0;
      while (busy()) {
        if (clock.nowMs() > deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, QUIESCE_POLL_MS));
      }
      // The last allowed plan may still be sending its order: wait for the symbol's lock.
      await locks.with(symbol, () => Promise.resolve());
      return true;
    },
    stop: async () => {
      planner.stop();
      keeper.stop();
      await planReader.stop();
      await probe?.stop();
      await keyspace?.stop();
      await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}
