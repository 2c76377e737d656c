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
 *
 * Several instances (SPEC §11): every brain evaluates plans and applies fills (consumer
 * groups); the exchange side — poller, lot sizes, user-data stream — runs only on the
 * instance that holds the `brain-poller` lease (poller-role.ts), and each of its writes
 * carries that lease's epoch, so a paused former leader cannot write a snapshot.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
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
import { createRedis, waitForReady } from '../redis/connection.js';
import { defaultInstanceId } from '../domain/leadership.js';
import { HaInstance } from '../redis/ha/ha-instance.js';
import { PollerRole } from './poller-role.js';
import type { WriterTerm } from '../redis/ha/writer-term.js';

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
  /** This instance's id (default: POSGUARD_INSTANCE_ID, else hostname:pid). */
  instanceId?: string;
}

export interface BrainService {
  readonly metrics: BrainMetrics;
  readonly httpPort: number;
  readonly poller: SnapshotPoller;
  readonly consumer: string;
  readonly instanceId: string;
  /** Leases, presence and HA metrics of this instance (SPEC §11). */
  readonly ha: HaInstance;
  /** Whether this instance leads `brain-poller` (runs the poller, lot sizes, user stream). */
  leadsPoller(): boolean;
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
  instanceId: string;
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
  ha: HaInstance;
  role: PollerRole;
  /** The lease connection (its own: lease calls never queue behind a blocking read). */
  leaseRedis: Redis;
  /** Subscribed to refresh requests from brains that applied a fill but do not poll. */
  refreshSub: Redis;
}

function wire(deps: BrainDeps): Wiring {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const logger =
    deps.logger ?? createLogger({ name: 'posguard-brain', level: config.brain.logLevel });
  const metrics = createBrainMetrics({ defaultMetrics: true });
  const instanceId =
    deps.instanceId ?? config.ha.instanceId ?? defaultInstanceId(hostname(), process.pid);
  if (!config.binance.apiKey || !config.binance.apiSecret) {
    logger.error(
      'BINANCE_API_KEY/BINANCE_API_SECRET are not set: polls will fail, snapshots go stale, every permit denies',
    );
  }
  return {
    instanceId,
    config,
    deps,
    clock,
    scheduler: deps.scheduler ?? systemScheduler,
    logger,
    metrics,
    keys: buildKeys(config.keys.prefix, config.keys.governorPermitTemplate),
    // Stable across restarts when the instance id is (own pending entries are re-read);
    // two brains never share a consumer name when each has its POSGUARD_INSTANCE_ID.
    consumer:
      deps.consumer ?? (config.ha.instanceId ? `brain-${config.ha.instanceId}` : defaultConsumer()),
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

/** Exchange side: lot sizes, snapshot poller, time sync; the user-data stream is built per term. */
function exchangeSide(
  w: Wiring,
  term: WriterTerm,
): Pick<Components, 'lots' | 'poller' | 'timeSync'> & { userStream: () => UserStreamLink | null } {
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
    term,
    client: w.client,
    redis: w.redis.poller,
    allowlist: brain.allowlist,
    refreshSec: brain.lotRefreshSec,
  });
  let userStream: UserStreamLink | null = null;
  const poller = new SnapshotPoller({
    ...common,
    term,
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
  const newUserStream = (): UserStreamLink | null => {
    userStream = brain.userStream ? userDataStream(w, poller) : null;
    return userStream;
  };
  return { lots, poller, timeSync, userStream: newUserStream };
}

/** Stream side: the plan evaluator and the ledger updater, each with its own connections. */
function streamSide(
  w: Wiring,
  poller: SnapshotPoller,
  leadsPoller: () => boolean,
): Pick<Components, 'evaluator' | 'updater'> {
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
    // SPEC §11: WAIT for this many replicas after a batch's permits, before acking its plans.
    minReplicasAck: w.config.redis.minReplicasAck ?? 0,
    ...(w.config.redis.replicaWaitMs === undefined
      ? {}
      : { replicaWaitMs: w.config.redis.replicaWaitMs }),
    ...(w.deps.evaluate ? { evaluate: w.deps.evaluate } : {}),
  });
  const updater = new LedgerUpdater({
    ...common,
    reader: w.redis.resultReader,
    redis: w.redis.ledger,
    ledgerTtlSec: w.config.ledger.ledgerTtlSec,
    markerTtlSec: brain.planSeenTtlSec,
    // The refresh after our own fill runs on the poller's leader: ask it when that is not us
    // (best effort — its regular poll and the user stream still bring the change).
    onFill: (symbol) => {
      if (leadsPoller()) poller.requestRefresh(symbol);
      else w.redis.ledger.publish(w.keys.snapshotRefreshChannel, symbol).catch(() => undefined);
    },
  });
  return { evaluator, updater };
}

function startEndpoint(w: Wiring, poller: SnapshotPoller, role: PollerRole): Promise<HttpEndpoint> {
  const brain = w.config.brain;
  const freshWithinMs = Math.max(3 * brain.pollSec, brain.staleThresholdSec) * 1000;
  return startHttpEndpoint({
    host: brain.metricsHost,
    port: brain.metricsPort,
    registry: w.metrics.registry,
    readiness: {
      checks: () => ({
        redis: Object.values(w.redis).every((r) => r.status === 'ready'),
        // A standby polls nothing: its snapshots are the leader's (and its own permits
        // deny stale_snapshot when they are not fresh).
        snapshots_fresh:
          !role.isLeading() ||
          (poller.lastSuccessMs() ?? -Infinity) >= w.clock.nowMs() - freshWithinMs,
      }),
    },
  });
}

async function stopComponents(c: Components, redis: Connections): Promise<void> {
  // Readers first: they finish the batch in hand; then the exchange side (the role stops
  // its components before the lease is released); then Redis.
  await Promise.all([c.evaluator.stop(), c.updater.stop()]);
  await c.role.stop();
  await c.ha.stop();
  await Promise.all([c.heartbeat.stop(), c.gauges.stop(), c.timeSync.stop()]);
  await Promise.all(
    [...Object.values(redis), c.leaseRedis, c.refreshSub].map((r) =>
      r.quit().catch(() => r.disconnect()),
    ),
  );
}

export async function startBrain(deps: BrainDeps): Promise<BrainService> {
  const w = wire(deps);
  const leaseRedis = createRedis(w.config.redis, { name: 'posguard-brain-lease' });
  leaseRedis.on('error', () => undefined);
  let role: PollerRole | null = null;
  const ha = new HaInstance({
    redis: leaseRedis,
    keys: w.keys,
    service: 'brain',
    instanceId: w.instanceId,
    roles: ['brain-poller'],
    leaseMs: w.config.ha.leaseMs,
    registry: w.metrics.registry,
    logger: w.logger,
    watch: Object.values(w.redis),
    clock: w.clock,
    scheduler: w.scheduler,
    handlers: {
      onElected: () => role?.elected(),
      onLost: (_role, reason) => role?.lost(reason),
    },
  });
  const exchange = exchangeSide(w, ha.term('brain-poller'));
  const { poller } = exchange;
  role = new PollerRole(
    () => {
      const link = exchange.userStream();
      // The link starts its stream when built; the poller and lot sizes start here.
      return [
        exchange.lots,
        poller,
        ...(link ? [{ start: () => undefined, stop: () => link.stop() }] : []),
      ];
    },
    (error) => w.logger.error({ err: String(error) }, 'brain-poller role transition failed'),
  );
  const heartbeat = new Heartbeat({
    redis: w.redis.poller,
    keys: w.keys,
    clock: w.clock,
    scheduler: w.scheduler,
    metrics: w.metrics,
    logger: w.logger,
    facts: () => ({
      consumer: w.consumer,
      instance: w.instanceId,
      poller_leader: role?.isLeading() ?? false,
      last_poll_ok_ms: poller.lastSuccessMs(),
    }),
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
  const c: Components = {
    lots: exchange.lots,
    poller,
    timeSync: exchange.timeSync,
    ...streamSide(w, poller, () => role?.isLeading() ?? false),
    heartbeat,
    gauges,
    ha,
    role,
    leaseRedis,
    refreshSub: refreshRequests(w, poller, role),
  };
  // Give the connections a moment so start-up does not report a Redis "outage"; if Redis is
  // really down the components start anyway and their outage handling takes over.
  await Promise.all(
    [...Object.values(w.redis), leaseRedis].map((r) =>
      waitForReady(r, REDIS_READY_WAIT_MS).catch(() => undefined),
    ),
  );
  for (const component of [c.evaluator, c.updater, c.timeSync, c.heartbeat, c.gauges]) {
    component.start();
  }
  // Campaign for brain-poller: the poller, lot sizes and user stream start once elected.
  await ha.start();
  let http: HttpEndpoint;
  try {
    http = await startEndpoint(w, poller, role);
  } catch (error) {
    await stopComponents(c, w.redis);
    throw error;
  }
  const brain = w.config.brain;
  w.logger.info(
    {
      consumer: w.consumer,
      instance: w.instanceId,
      lease_ms: w.config.ha.leaseMs,
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
    instanceId: w.instanceId,
    ha,
    leadsPoller: () => c.role.isLeading(),
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

/** The poller's leader refreshes a symbol another brain applied a fill of (best effort). */
function refreshRequests(w: Wiring, poller: SnapshotPoller, role: PollerRole): Redis {
  const sub = createRedis(w.config.redis, { name: 'posguard-brain-refresh' });
  sub.on('error', () => undefined);
  sub.on('message', (_channel: string, symbol: string) => {
    if (role.isLeading()) poller.requestRefresh(symbol);
  });
  sub.once('ready', () => {
    sub.subscribe(w.keys.snapshotRefreshChannel).catch((error: unknown) => {
      w.logger.warn({ err: String(error) }, 'refresh request subscription failed');
    });
  });
  return sub;
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
