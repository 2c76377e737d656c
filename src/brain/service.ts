/**
 * The Position State Brain service (P3.3): the composition root. Three independent
 * components on separate Redis connections — a slow or failing exchange never delays
 * permits, and a blocked reader never delays a write:
 *
 * - snapshot poller + lot sizes (+ optional user-data stream)   → exchange side
 * - plan evaluator   (blocking reader + command connection)      → permits
 * - ledger updater   (blocking reader + command connection)      → ledger
 *
 * plus the heartbeat, the gauges read from Redis (ledger amounts, snapshot ages) and the
 * metrics/health endpoint.
 */
import { hostname } from 'node:os';
import type { Config } from '../config/config.js';
import type { PermitDecision, RuleInputs } from '../domain/permit-rules.js';
import type { Clock } from '../domain/time.js';
import { binanceClientFromConfig } from '../exchange/binance-client.js';
import type { FuturesRestClient, ListenKeyApi } from '../exchange/types.js';
import { UserDataStream } from '../exchange/user-data-stream.js';
import { UserStreamLink } from './user-stream-link.js';
import { startHttpEndpoint, type HttpEndpoint } from '../observability/http-server.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { type Keys, buildKeys } from '../redis/keys.js';
import { type Scheduler, systemClock, systemScheduler } from '../runtime/clock.js';
import { Heartbeat } from './heartbeat.js';
import { LedgerUpdater } from './ledger-updater.js';
import { LotSizeRefresher } from './lot-sizes.js';
import { type Connections, connections } from './connections.js';
import { waitForReady } from '../redis/connection.js';

/** How long start-up waits for Redis before the components start on their own. */
const REDIS_READY_WAIT_MS = 3000;
import { type BrainMetrics, createBrainMetrics, exchangeObserver } from './metrics.js';
import { PlanEvaluator } from './plan-evaluator.js';
import { SnapshotPoller } from './snapshot-poller.js';
import { StateGauges } from './state-gauges.js';
import { TimeSync } from './time-sync.js';

export interface BrainDeps {
  config: Readonly<Config>;
  /** The exchange; defaults to the Binance client built from config.binance. */
  client?: FuturesRestClient & ListenKeyApi;
  clock?: Clock;
  /** Timers of every loop (default: the system's); tests pass a manual one with the clock. */
  scheduler?: Scheduler;
  logger?: Logger;
  /** Consumer name in both groups; stable across restarts so own pending entries are re-read. */
  consumer?: string;
  /** Tests: the rules, to prove a throwing evaluation still yields a permit. */
  evaluate?: (inputs: RuleInputs) => PermitDecision;
  /** Tests: shorter claim cadence. */
  claimIdleMs?: number;
}

export interface BrainService {
  readonly metrics: BrainMetrics;
  readonly httpPort: number;
  readonly poller: SnapshotPoller;
  readonly consumer: string;
  /**
   * Stops applying fills (the batch in hand is finished; new results stay in the stream,
   * unacknowledged) until `resumeLedgerUpdates()`. Simulates a lagging or crashed ledger
   * updater, the case the reconcile engine's evidence-based repair exists for (demo, tests).
   */
  pauseLedgerUpdates(): Promise<void>;
  resumeLedgerUpdates(): void;
  /** Stops reading, finishes the batches in hand, closes everything. */
  stop(): Promise<void>;
}

function defaultConsumer(): string {
  return `brain-${hostname()
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .slice(0, 64)}`;
}

interface Wiring {
  config: Readonly<Config>;
  deps: BrainDeps;
  clock: Clock;
  scheduler: Scheduler;
  logger: Logger;
  metrics: BrainMetrics;
  keys: Keys;
  consumer: string;
  redis: Connections;
  client: FuturesRestClient & ListenKeyApi;
}

interface Components {
  lots: LotSizeRefresher;
  poller: SnapshotPoller;
  evaluator: PlanEvaluator;
  updater: LedgerUpdater;
  timeSync: TimeSync;
  heartbeat: Heartbeat;
  gauges: StateGauges;
  userStream: UserStreamLink | null;
}

function wire(deps: BrainDeps): Wiring {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const logger =
    deps.logger ?? createLogger({ name: 'posguard-brain', level: config.brain.logLevel });
  const metrics = createBrainMetrics({ defaultMetrics: true });
  if (!config.binance.apiKey || !config.binance.apiSecret) {
    logger.error(
      'BINANCE_API_KEY/BINANCE_API_SECRET are not set: polls will fail, snapshots go stale, every permit denies',
    );
  }
  return {
    config,
    deps,
    clock,
    scheduler: deps.scheduler ?? systemScheduler,
    logger,
    metrics,
    keys: buildKeys(config.keys.prefix, config.keys.governorPermitTemplate),
    consumer: deps.consumer ?? defaultConsumer(),
    redis: connections(config, logger),
    client:
      deps.client ??
      binanceClientFromConfig(config.binance, {
        clock,
        logger,
        onRequest: exchangeObserver(metrics),
      }),
  };
}

/** Exchange side: lot sizes, snapshot poller, time sync, optional user-data stream. */
function exchangeSide(w: Wiring): Pick<Components, 'lots' | 'poller' | 'timeSync' | 'userStream'> {
  const brain = w.config.brain;
  const common = {
    keys: w.keys,
    clock: w.clock,
    scheduler: w.scheduler,
    metrics: w.metrics,
    logger: w.logger,
  };
  const lots = new LotSizeRefresher({
    ...common,
    client: w.client,
    redis: w.redis.poller,
    allowlist: brain.allowlist,
    refreshSec: brain.lotRefreshSec,
  });
  let userStream: UserStreamLink | null = null;
  const poller = new SnapshotPoller({
    ...common,
    client: w.client,
    redis: w.redis.poller,
    allowlist: brain.allowlist,
    pollSec: brain.pollSec,
    snapshotTtlSec: brain.snapshotTtlSec,
    positionRiskVersion: w.config.binance.positionRiskVersion,
    listedSymbols: () => lots.listedSymbols(),
    onRestChanges: (changes) => userStream?.restChanges(changes),
  });
  const timeSync = new TimeSync({
    client: w.client,
    logger: w.logger,
    clock: w.clock,
    scheduler: w.scheduler,
  });
  userStream = brain.userStream ? userDataStream(w, poller) : null;
  return { lots, poller, timeSync, userStream };
}

/** Stream side: the plan evaluator and the ledger updater, each with its own connections. */
function streamSide(w: Wiring, poller: SnapshotPoller): Pick<Components, 'evaluator' | 'updater'> {
  const brain = w.config.brain;
  const common = {
    keys: w.keys,
    clock: w.clock,
    scheduler: w.scheduler,
    metrics: w.metrics,
    logger: w.logger,
    allowlist: brain.allowlist,
    consumer: w.consumer,
    ...(w.deps.claimIdleMs === undefined
      ? {}
      : { claimIdleMs: w.deps.claimIdleMs, claimEveryMs: w.deps.claimIdleMs }),
  };
  const evaluator = new PlanEvaluator({
    ...common,
    reader: w.redis.planReader,
    redis: w.redis.evaluator,
    rules: {
      staleThresholdSec: brain.staleThresholdSec,
      cooldownSec: brain.cooldownSec,
      qtyTolerancePct: brain.qtyTolerancePct,
      planMaxAgeSec: brain.planMaxAgeSec,
      requireReconcile: brain.requireReconcile,
    },
    permitTtlSec: brain.permitTtlSec,
    planSeenTtlSec: brain.planSeenTtlSec,
    ...(w.deps.evaluate ? { evaluate: w.deps.evaluate } : {}),
  });
  const updater = new LedgerUpdater({
    ...common,
    reader: w.redis.resultReader,
    redis: w.redis.ledger,
    ledgerTtlSec: w.config.ledger.ledgerTtlSec,
    markerTtlSec: brain.planSeenTtlSec,
    onFill: (symbol) => poller.requestRefresh(symbol),
  });
  return { evaluator, updater };
}

function startEndpoint(w: Wiring, poller: SnapshotPoller): Promise<HttpEndpoint> {
  const brain = w.config.brain;
  const freshWithinMs = Math.max(3 * brain.pollSec, brain.staleThresholdSec) * 1000;
  return startHttpEndpoint({
    host: brain.metricsHost,
    port: brain.metricsPort,
    registry: w.metrics.registry,
    readiness: {
      checks: () => ({
        redis: Object.values(w.redis).every((r) => r.status === 'ready'),
        snapshots_fresh: (poller.lastSuccessMs() ?? -Infinity) >= w.clock.nowMs() - freshWithinMs,
      }),
    },
  });
}

async function stopComponents(c: Components, redis: Connections): Promise<void> {
  // Readers first: they finish the batch in hand; then the exchange side; then Redis.
  await Promise.all([c.evaluator.stop(), c.updater.stop()]);
  await Promise.all([
    c.poller.stop(),
    c.lots.stop(),
    c.heartbeat.stop(),
    c.gauges.stop(),
    c.timeSync.stop(),
    c.userStream?.stop(),
  ]);
  await Promise.all(Object.values(redis).map((r) => r.quit().catch(() => r.disconnect())));
}

export async function startBrain(deps: BrainDeps): Promise<BrainService> {
  const w = wire(deps);
  const exchange = exchangeSide(w);
  const { poller } = exchange;
  const heartbeat = new Heartbeat({
    redis: w.redis.poller,
    keys: w.keys,
    clock: w.clock,
    scheduler: w.scheduler,
    metrics: w.metrics,
    logger: w.logger,
    facts: () => ({ consumer: w.consumer, last_poll_ok_ms: poller.lastSuccessMs() }),
  });
  const gauges = new StateGauges({
    redis: w.redis.poller,
    keys: w.keys,
    allowlist: w.config.brain.allowlist,
    clock: w.clock,
    scheduler: w.scheduler,
    metrics: w.metrics,
    logger: w.logger,
  });
  const c: Components = { ...exchange, ...streamSide(w, poller), heartbeat, gauges };
  // Give the connections a moment so start-up does not report a Redis "outage"; if Redis is
  // really down the components start anyway and their outage handling takes over.
  await Promise.all(
    Object.values(w.redis).map((r) => waitForReady(r, REDIS_READY_WAIT_MS).catch(() => undefined)),
  );
  for (const component of [
    c.evaluator,
    c.updater,
    c.timeSync,
    c.lots,
    c.poller,
    c.heartbeat,
    c.gauges,
  ]) {
    component.start();
  }
  let http: HttpEndpoint;
  try {
    http = await startEndpoint(w, poller);
  } catch (error) {
    await stopComponents(c, w.redis);
    throw error;
  }
  const brain = w.config.brain;
  w.logger.info(
    {
      consumer: w.consumer,
      symbols: brain.allowlist.length,
      poll_sec: brain.pollSec,
      metrics: `${brain.metricsHost}:${http.port}`,
      user_stream: brain.userStream,
    },
    'position state brain started',
  );
  return {
    metrics: w.metrics,
    consumer: w.consumer,
    poller,
    httpPort: http.port,
    pauseLedgerUpdates: () => c.updater.stop(),
    resumeLedgerUpdates: () => c.updater.start(),
    stop: async () => {
      w.logger.info('position state brain stopping');
      await http.close();
      await stopComponents(c, w.redis);
      w.logger.info('position state brain stopped');
    },
  };
}

/** ACCOUNT_UPDATE rows write snapshots at once; reseeds and the silence watchdog: UserStreamLink. */
function userDataStream(w: Wiring, poller: SnapshotPoller): UserStreamLink {
  const wsUrl = w.config.binance.wsUrl;
  const stream = new UserDataStream({ wsUrl, listenKeys: w.client, logger: w.logger });
  const link = new UserStreamLink({
    stream,
    poller,
    metrics: w.metrics,
    logger: w.logger,
    clock: w.clock,
    scheduler: w.scheduler,
    wsUrl,
  });
  link.start();
  return link;
}
