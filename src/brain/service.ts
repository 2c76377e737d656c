/**
 * The Position State Brain service (P3.3): the composition root. Three independent
 * components on separate Redis connections — a slow or failing exchange never delays
 * permits, and a blocked reader never delays a write:
 *
 * - snapshot poller + lot sizes (+ optional user-data stream)   → exchange side
 * - plan evaluator   (blocking reader + command connection)      → permits
 * - ledger updater   (blocking reader + command connection)      → ledger
 *
 * plus the heartbeat and the metrics/health endpoint.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import type { PermitDecision, RuleInputs } from '../domain/permit-rules.js';
import type { Clock } from '../domain/time.js';
import { binanceClientFromConfig, type ExchangeRequestEvent } from '../exchange/binance-client.js';
import type { FuturesRestClient, ListenKeyApi } from '../exchange/types.js';
import { UserDataStream } from '../exchange/user-data-stream.js';
import { startHttpEndpoint, type HttpEndpoint } from '../observability/http-server.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createRedis } from '../redis/connection.js';
import { buildKeys } from '../redis/keys.js';
import { Heartbeat } from './heartbeat.js';
import { LedgerUpdater } from './ledger-updater.js';
import { LotSizeRefresher } from './lot-sizes.js';
import { type BrainMetrics, createBrainMetrics } from './metrics.js';
import { PlanEvaluator } from './plan-evaluator.js';
import { SnapshotPoller } from './snapshot-poller.js';
import { TimeSync } from './time-sync.js';

export interface BrainDeps {
  config: Readonly<Config>;
  /** The exchange; defaults to the Binance client built from config.binance. */
  client?: FuturesRestClient & ListenKeyApi;
  clock?: Clock;
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
  /** Stops reading, finishes the batches in hand, closes everything. */
  stop(): Promise<void>;
}

const SYSTEM_CLOCK: Clock = { nowMs: () => Date.now() };

function exchangeObserver(metrics: BrainMetrics): (event: ExchangeRequestEvent) => void {
  return (event) => {
    if (event.weight !== null) metrics.exchangeUsedWeight1m.set(event.weight);
    if (event.status === 429 || event.status === 418) metrics.exchangeRateLimitedTotal.inc();
    const failed = event.error !== undefined || (event.status !== null && event.status >= 400);
    if (failed)
      metrics.exchangeErrorsTotal.inc({
        endpoint: event.endpoint,
        code: event.error ?? String(event.status),
      });
  };
}

function connections(
  config: Readonly<Config>,
  logger: Logger,
): Record<'evaluator' | 'planReader' | 'ledger' | 'resultReader' | 'poller', Redis> {
  const names = ['evaluator', 'planReader', 'ledger', 'resultReader', 'poller'] as const;
  const conns = Object.fromEntries(
    names.map((n) => [n, createRedis(config.redis, { name: `posguard-brain-${n}` })]),
  ) as Record<(typeof names)[number], Redis>;
  // One connection reports the outage (once); the others only need a listener so ioredis stays quiet.
  let down = false;
  conns.evaluator.on('error', (error: Error) => {
    if (!down)
      logger.error(
        { err: error.message },
        'redis unreachable; retrying (permits wait, snapshots age)',
      );
    down = true;
  });
  conns.evaluator.on('ready', () => {
    if (down) logger.info('redis reachable again');
    down = false;
  });
  for (const n of names) if (n !== 'evaluator') conns[n].on('error', () => undefined);
  return conns;
}

function defaultConsumer(): string {
  return `brain-${hostname()
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .slice(0, 64)}`;
}

export async function startBrain(deps: BrainDeps): Promise<BrainService> {
  const { config } = deps;
  const brain = config.brain;
  const clock = deps.clock ?? SYSTEM_CLOCK;
  const logger = deps.logger ?? createLogger({ name: 'posguard-brain', level: brain.logLevel });
  const metrics = createBrainMetrics({ defaultMetrics: true });
  const keys = buildKeys(config.keys.prefix, config.keys.governorPermitTemplate);
  const consumer = deps.consumer ?? defaultConsumer();
  const redis = connections(config, logger);
  if (!config.binance.apiKey || !config.binance.apiSecret) {
    logger.error(
      'BINANCE_API_KEY/BINANCE_API_SECRET are not set: polls will fail, snapshots go stale, every permit denies',
    );
  }
  const client =
    deps.client ??
    binanceClientFromConfig(config.binance, {
      clock,
      logger,
      onRequest: exchangeObserver(metrics),
    });

  const common = { keys, clock, metrics, logger, allowlist: brain.allowlist };
  const lots = new LotSizeRefresher({
    ...common,
    client,
    redis: redis.poller,
    refreshSec: brain.lotRefreshSec,
  });
  const poller = new SnapshotPoller({
    ...common,
    client,
    redis: redis.poller,
    pollSec: brain.pollSec,
    snapshotTtlSec: brain.snapshotTtlSec,
    positionRiskVersion: config.binance.positionRiskVersion,
    listedSymbols: () => lots.listedSymbols(),
  });
  const claim =
    deps.claimIdleMs === undefined
      ? {}
      : { claimIdleMs: deps.claimIdleMs, claimEveryMs: deps.claimIdleMs };
  const evaluator = new PlanEvaluator({
    ...common,
    reader: redis.planReader,
    redis: redis.evaluator,
    consumer,
    rules: {
      staleThresholdSec: brain.staleThresholdSec,
      cooldownSec: brain.cooldownSec,
      qtyTolerancePct: brain.qtyTolerancePct,
      planMaxAgeSec: brain.planMaxAgeSec,
      requireReconcile: brain.requireReconcile,
    },
    permitTtlSec: brain.permitTtlSec,
    planSeenTtlSec: brain.planSeenTtlSec,
    ...(deps.evaluate ? { evaluate: deps.evaluate } : {}),
    ...claim,
  });
  const updater = new LedgerUpdater({
    ...common,
    reader: redis.resultReader,
    redis: redis.ledger,
    consumer,
    ledgerTtlSec: config.ledger.ledgerTtlSec,
    markerTtlSec: brain.planSeenTtlSec,
    onFill: () => poller.requestRefresh(),
    ...claim,
  });
  const timeSync = new TimeSync({ client, logger, clock });
  const heartbeat = new Heartbeat({
    redis: redis.poller,
    keys,
    clock,
    metrics,
    logger,
    facts: () => ({ consumer, last_poll_ok_ms: poller.lastSuccessMs() }),
  });
  const userStream = brain.userStream ? startUserStream(config, client, poller, logger) : null;

  evaluator.start();
  updater.start();
  timeSync.start();
  lots.start();
  poller.start();
  heartbeat.start();

  const freshWithinMs = Math.max(3 * brain.pollSec, brain.staleThresholdSec) * 1000;
  let http: HttpEndpoint;
  try {
    http = await startHttpEndpoint({
      host: brain.metricsHost,
      port: brain.metricsPort,
      registry: metrics.registry,
      readiness: {
        checks: () => ({
          redis: Object.values(redis).every((r) => r.status === 'ready'),
          snapshots_fresh: (poller.lastSuccessMs() ?? -Infinity) >= clock.nowMs() - freshWithinMs,
        }),
      },
    });
  } catch (error) {
    await stopAll();
    throw error;
  }
  logger.info(
    {
      consumer,
      symbols: brain.allowlist.length,
      poll_sec: brain.pollSec,
      metrics: `${brain.metricsHost}:${http.port}`,
      user_stream: brain.userStream,
    },
    'position state brain started',
  );

  async function stopAll(): Promise<void> {
    await Promise.all([evaluator.stop(), updater.stop()]);
    await Promise.all([
      poller.stop(),
      lots.stop(),
      heartbeat.stop(),
      timeSync.stop(),
      userStream?.stop(),
    ]);
    await Promise.all(Object.values(redis).map((r) => r.quit().catch(() => r.disconnect())));
  }

  return {
    metrics,
    consumer,
    poller,
    get httpPort() {
      return http.port;
    },
    stop: async () => {
      logger.info('position state brain stopping');
      await http.close();
      await stopAll();
      logger.info('position state brain stopped');
    },
  };
}

/** ACCOUNT_UPDATE rows write snapshots at once; every (re)connect reseeds from REST. */
function startUserStream(
  config: Readonly<Config>,
  client: ListenKeyApi,
  poller: SnapshotPoller,
  logger: Logger,
): UserDataStream {
  const stream = new UserDataStream({ wsUrl: config.binance.wsUrl, listenKeys: client, logger });
  stream.on('connected', () => poller.trigger());
  stream.on('account_update', (update) => {
    poller.applyAccountUpdate(update).catch((error: unknown) => {
      logger.warn(
        { err: String(error) },
        'user-data snapshot write failed; REST polling continues',
      );
    });
  });
  stream.start();
  return stream;
}
