/**
 * Several instances under load over a Sentinel-managed pair (SPEC §11), for the `ha` demo
 * scenario and the failover figure (bench/ha/failover.ts): a private Sentinel set-up (master,
 * replica, three sentinels: redis-sentinel.ts), N brains and M engines as child processes of
 * the built CLI (ha-cluster.ts), and the simulated pipeline in this process (planner +
 * Governor stub, the Apply Layer stub consuming permits through the gate, the position
 * keeper), every part at the same REDIS_MIN_REPLICAS_ACK.
 *
 * It keeps what the checks need: every gate answer (per plan: how many `ok`; each `ok` with
 * the Redis server it came from) and every order sent (client order id → plan). Looks:
 * `term(role)` (lease holder and fence), `flowAfter` (the first ALLOW consumed through the
 * gate for a plan published after a moment — "permits flow again"), `fencedWrites`.
 * `finish()` stops the load, waits until the ledgers settle, and audits (ha-audit.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { type Amount, Decimal, ZERO, epsilonFor, formatAmount } from '../domain/amount.js';
import { type Fill, fieldsToRecord, parseApplyResult } from '../domain/apply-result.js';
import type { LeaderRole } from '../domain/leadership.js';
import { decodeLedger } from '../domain/ledger.js';
import { decodeLotSize } from '../domain/lot-size.js';
import { type Config, loadConfig } from '../config/config.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Keys } from '../redis/keys.js';
import { systemClock } from '../runtime/clock.js';
import {
  type HaAudit,
  type OrderSent,
  ordersPerPlan,
  plansWithTwoAllows,
  resultAccounting,
  symbolEnd,
} from './ha-audit.js';
import { HaCluster, type HaClusterOptions } from './ha-cluster.js';
import { clusterEnv } from './ha-member.js';
import type { GateEvent, OrderEvent } from './pipeline/apply-layer.js';
import { type Pipeline, startPipeline } from './pipeline/pipeline.js';
import { type SentinelSetup, startSentinelSetup } from './redis-sentinel.js';

export interface HaLoadOptions {
  logger: Logger;
  /** REDIS_MIN_REPLICAS_ACK for every brain and the Apply Layer's gate and result writes. */
  minReplicasAck: number;
  /** Plans per second the planner publishes. */
  ratePerSec: number;
  /** Signed position the keeper holds each symbol at (also the venue's opening position). */
  targets: ReadonlyMap<string, Amount>;
  keeperEveryMs: number;
  brains?: number;
  engines?: number;
  /** POSGUARD_LEASE_MS (default 3000, the service default). */
  leaseMs?: number;
  cadenceSec?: number;
  pollSec?: number;
  /** P33_COOLDOWN_SEC (default 0.5). */
  cooldownSec?: number;
  governorDenyFraction?: number;
  /** The CLI the instances run (default: a snapshot of the working tree's build). */
  cli?: string;
  /** Extra variables for every instance and the pipeline. */
  env?: Readonly<Record<string, string>>;
  /** Told what is starting (the demo narrates it). */
  progress?: (message: string) => void;
}

export interface GateOk {
  planId: string;
  ok: boolean;
  symbol: string;
  atMs: number;
  publishedMs: number | null;
  serverPort: number | null;
}

export type ServerFilter = (port: number | null) => boolean;

export interface Term {
  leader: string | null;
  epoch: number | null;
}

export interface HaLoad {
  readonly sentinel: SentinelSetup;
  readonly cluster: HaCluster;
  readonly pipeline: Pipeline;
  readonly config: Readonly<Config>;
  readonly keys: Keys;
  readonly symbols: readonly string[];
  readonly startedMs: number;
  /** Gate answers by outcome (`ok`, or the refusal code[:p33 reason]). */
  gateCounts(): Record<string, number>;
  /** Every `ok` answer, in order. */
  readonly oks: readonly GateOk[];
  /** The master the sentinels agree on (its port). */
  masterPort(): Promise<number>;
  /**
   * SENTINEL FAILOVER (redis-sentinel.ts `failover()`): resolves with the new master's port
   * once the sentinels agree on it and the old master replicates it. A failover that does not
   * complete is asked for once more; `problems` says what went wrong (with the tail of each
   * sentinel's log), `attempts` how many it took.
   */
  failover(): Promise<{ port: number; attempts: number; problems: string[] }>;
  /** The role's lease holder and fence, as the cluster's connection reads them. */
  term(role: LeaderRole): Promise<Term>;
  /**
   * Waits until the role's lease names a member (other than `not`) under a fence above
   * `above`: a new term. Resolves with it and when it was seen, or null after `timeoutMs`.
   */
  newTerm(
    role: LeaderRole,
    opts: { not?: string; above: number | null; timeoutMs: number },
  ): Promise<(Term & { atMs: number }) | null>;
  /**
   * The first ALLOW consumed through the gate (an `ok` answer) after `sinceMs` for a plan
   * published after it — from a server whose port `onServer` accepts, when given (the gate's
   * connection at the answer) — or null after `timeoutMs`.
   */
  flowAfter(sinceMs: number, timeoutMs: number, onServer?: ServerFilter): Promise<GateOk | null>;
  /**
   * The same for any answer of the brains the gate passed on (an ALLOW consumed, or a P3.3
   * deny with its reason): the brains answer plans again, whatever they decide.
   */
  answeredAfter(
    sinceMs: number,
    timeoutMs: number,
    onServer?: ServerFilter,
  ): Promise<GateOk | null>;
  /** posguard_fenced_writes_total summed over the running, unpaused instances, per role. */
  fencedWrites(): Promise<Record<LeaderRole, number>>;
  /** Ledger and venue position per symbol, now. */
  positions(): Promise<{ symbol: string; ledger: string; venue: string }[]>;
  /**
   * Stops the load (planner, keeper, Apply Layer: what it holds is finished), waits up to
   * `settleMs` for every ledger to equal the venue, and audits the run.
   */
  finish(settleMs: number): Promise<HaAudit>;
  /** Stops everything it started (the cluster, the set-up, the pipeline if still running). */
  stop(): Promise<void>;
}

const DEFAULT_LEASE_MS = 3000;
const POLL_MS = 50;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The last lines of each sentinel's log (its events: +try-failover, -failover-abort-…). */
function sentinelLogTails(sentinel: SentinelSetup, lines = 12): string {
  return sentinel.sentinels
    .map((s) => {
      let text: string;
      try {
        text = readFileSync(join(sentinel.dir, `${s.name}.log`), 'utf8');
      } catch {
        text = '(no log)';
      }
      return `  ${s.name}:\n${text
        .trimEnd()
        .split('\n')
        .slice(-lines)
        .map((l) => `    ${l}`)
        .join('\n')}`;
    })
    .join('\n');
}

/** The first entry of `list` (growing) after `sinceMs` for a plan published after it. */
async function firstAfter(
  list: readonly GateOk[],
  sinceMs: number,
  timeoutMs: number,
  onServer: ServerFilter | undefined,
): Promise<GateOk | null> {
  const deadline = Date.now() + timeoutMs;
  let from = 0;
  for (;;) {
    for (; from < list.length; from += 1) {
      const seen = list[from] as GateOk;
      if (seen.atMs < sinceMs || seen.publishedMs === null || seen.publishedMs < sinceMs) continue;
      if (onServer !== undefined && !onServer(seen.serverPort)) continue;
      return seen;
    }
    if (Date.now() > deadline) return null;
    await sleep(POLL_MS);
  }
}

async function readTerm(redis: Redis, keys: Keys, role: LeaderRole): Promise<Term> {
  const [leader, fence] = await Promise.all([
    redis.get(keys.lease(role)),
    redis.get(keys.fence(role)),
  ]);
  const epoch = fence === null ? null : Number(fence);
  return { leader, epoch: Number.isSafeInteger(epoch) ? epoch : null };
}

interface LedgerAt {
  amount: Amount;
  version: number;
}

async function readLedger(
  redis: Redis,
  keys: Keys,
  symbol: string,
): Promise<{ ledger: LedgerAt | null; problem: string; epsilon: Amount }> {
  const [hash, lotHash] = await Promise.all([
    redis.hgetall(keys.ledger(symbol)),
    redis.hgetall(keys.symbolLotSize(symbol)),
  ]);
  const epsilon = epsilonFor(decodeLotSize(lotHash)?.stepSize ?? null);
  const read = decodeLedger(hash, epsilon);
  if (read.kind === 'ok')
    return {
      ledger: { amount: read.ledger.amount, version: read.ledger.version },
      problem: '',
      epsilon,
    };
  return { ledger: null, problem: read.kind === 'invalid' ? read.problem : 'missing', epsilon };
}

/** Every fill entry of `stream` after `afterId`, read in pages. */
async function fillsAfter(redis: Redis, stream: string, afterId: string): Promise<Fill[]> {
  const fills: Fill[] = [];
  let from = `(${afterId}`;
  for (;;) {
    const page = (await redis.xrange(stream, from, '+', 'COUNT', 1000)) as [string, string[]][];
    for (const [id, flat] of page) {
      const parsed = parseApplyResult(id, fieldsToRecord(flat));
      if (parsed.kind === 'fill') fills.push(parsed.fill);
    }
    if (page.length < 1000) return fills;
    from = `(${(page.at(-1) as [string, string[]])[0]}`;
  }
}

async function existing(redis: Redis, keys: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < keys.length; i += 500) {
    const batch = keys.slice(i, i + 500);
    const pipeline = redis.pipeline();
    for (const key of batch) pipeline.exists(key);
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([error, n], j) => {
      if (error === null && n === 1) found.add(batch[j] as string);
    });
  }
  return found;
}

export async function startHaLoad(options: HaLoadOptions): Promise<HaLoad> {
  const say = options.progress ?? (() => undefined);
  const symbols = [...options.targets.keys()];
  say('starting a Redis Sentinel set-up: a master, a replica, three sentinels (quorum 2)');
  const sentinel = await startSentinelSetup();
  let cluster: HaCluster | null = null;
  try {
    const clusterOptions: HaClusterOptions = {
      brains: options.brains ?? 2,
      engines: options.engines ?? 2,
      redis: { sentinels: sentinel.sentinelList, masterName: sentinel.masterName },
      positions: Object.fromEntries(
        [...options.targets].map(([symbol, amount]) => [symbol, formatAmount(amount)]),
      ),
      leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS,
      ...(options.cadenceSec === undefined ? {} : { cadenceSec: options.cadenceSec }),
      ...(options.pollSec === undefined ? {} : { pollSec: options.pollSec }),
      env: {
        REDIS_MIN_REPLICAS_ACK: String(options.minReplicasAck),
        P33_COOLDOWN_SEC: String(options.cooldownSec ?? 0.5),
        ...options.env,
      },
      ...(options.cli === undefined ? {} : { cli: options.cli }),
    };
    say(
      `starting ${clusterOptions.brains} brains and ${clusterOptions.engines} reconcile engines ` +
        `(child processes of the built CLI, POSGUARD_LEASE_MS=${clusterOptions.leaseMs})`,
    );
    cluster = await HaCluster.start(clusterOptions);
    return await withPipeline(options, sentinel, cluster, clusterOptions, symbols, say);
  } catch (error) {
    await cluster?.stop().catch(() => undefined);
    await sentinel.stop();
    throw error;
  }
}

async function withPipeline(
  options: HaLoadOptions,
  sentinel: SentinelSetup,
  cluster: HaCluster,
  clusterOptions: HaClusterOptions,
  symbols: readonly string[],
  say: (message: string) => void,
): Promise<HaLoad> {
  const config = loadConfig(clusterEnv(clusterOptions, cluster.keyPrefix, cluster.venue, symbols));
  const redis = cluster.redis;
  const keys = cluster.keys;
  // Where the run starts: the ledgers the engines initialised, the result stream's end.
  const startLedgers = new Map<string, number | null>();
  for (const symbol of symbols) {
    startLedgers.set(symbol, (await readLedger(redis, keys, symbol)).ledger?.version ?? null);
  }
  const last = (await redis.xrevrange(keys.applyResultStream, '+', '-', 'COUNT', 1)) as [
    string,
    string[],
  ][];
  const startResultId = last[0]?.[0] ?? '0-0';
  const firstVenueOrder = Math.max(0, ...cluster.venue.control.orders().map((o) => o.orderId));

  const allows = new Map<string, number>();
  const oks: GateOk[] = [];
  /** Every answer carrying a brain's decision (ok, or a P3.3 deny with a reason). */
  const answers: GateOk[] = [];
  const NOT_A_DECISION = new Set(['missing', 'wrong_type', 'invalid']);
  const counts: Record<string, number> = {};
  const sent = new Map<string, OrderSent>();
  let pipeline: Pipeline | null = null;
  const onGate = (e: GateEvent): void => {
    const key = e.result.ok
      ? 'ok'
      : `${e.result.code}${e.result.p33Reason === undefined ? '' : `:${e.result.p33Reason}`}`;
    counts[key] = (counts[key] ?? 0) + 1;
    const seen: GateOk = {
      planId: e.planId,
      ok: e.result.ok,
      symbol: e.symbol,
      atMs: e.atMs,
      publishedMs: pipeline?.book.get(e.planId)?.publishedMs ?? null,
      serverPort: e.serverPort,
    };
    if (!e.result.ok) {
      const decided =
        e.result.code === 'missing_or_denied_p33_permit' &&
        e.result.p33Reason !== undefined &&
        !NOT_A_DECISION.has(e.result.p33Reason);
      if (decided) answers.push(seen);
      return;
    }
    allows.set(e.planId, (allows.get(e.planId) ?? 0) + 1);
    oks.push(seen);
    answers.push(seen);
  };
  const onOrder = (e: OrderEvent): void => {
    sent.set(e.clientOrderId, {
      planId: e.planId,
      symbol: e.symbol,
      clientOrderId: e.clientOrderId,
    });
  };
  say(
    `starting the pipeline: ${options.ratePerSec} plans/s, the Apply Layer consuming permits ` +
      `through the gate at REDIS_MIN_REPLICAS_ACK=${options.minReplicasAck}`,
  );
  pipeline = await startPipeline({
    config,
    clock: systemClock,
    logger: options.logger.child({ service: 'sim' }),
    symbols,
    targets: options.targets,
    ratePerSec: options.ratePerSec,
    governorDenyFraction: options.governorDenyFraction ?? 0,
    keeperEveryMs: options.keeperEveryMs,
    permitProbe: false,
    onGate,
    onOrder,
  });
  const running = pipeline;
  let pipelineStopped = false;
  const stopPipeline = async (): Promise<void> => {
    if (pipelineStopped) return;
    pipelineStopped = true;
    await running.stop().catch((error: unknown) => {
      options.logger.warn({ err: errorMessage(error) }, 'ha load: pipeline stop failed');
    });
  };

  const term = (role: LeaderRole): Promise<Term> => readTerm(redis, keys, role);
  const members = new Set(cluster.members.map((m) => m.id));

  const load: HaLoad = {
    sentinel,
    cluster,
    pipeline,
    config,
    keys,
    symbols,
    startedMs: Date.now(),
    oks,
    gateCounts: () => ({ ...counts }),
    masterPort: async () => (await sentinel.masterAddress()).port,
    failover: async () => {
      const problems: string[] = [];
      for (let attempt = 1; ; attempt += 1) {
        try {
          return { port: (await sentinel.failover()).port, attempts: attempt, problems };
        } catch (error) {
          problems.push(
            `attempt ${attempt}: ${errorMessage(error)}\n${sentinelLogTails(sentinel)}`,
          );
          if (attempt >= 2) throw new Error(problems.join('\n'), { cause: error });
        }
      }
    },
    term,
    newTerm: async (role, { not, above, timeoutMs }) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() <= deadline) {
        const t = await term(role).catch(() => null);
        if (
          t !== null &&
          t.leader !== null &&
          members.has(t.leader) &&
          t.leader !== not &&
          t.epoch !== null &&
          (above === null || t.epoch > above)
        ) {
          return { ...t, atMs: Date.now() };
        }
        await sleep(POLL_MS);
      }
      return null;
    },
    flowAfter: (sinceMs, timeoutMs, onServer) => firstAfter(oks, sinceMs, timeoutMs, onServer),
    answeredAfter: (sinceMs, timeoutMs, onServer) =>
      firstAfter(answers, sinceMs, timeoutMs, onServer),
    fencedWrites: async () => {
      const total: Record<LeaderRole, number> = { reconcile: 0, 'brain-poller': 0 };
      for (const m of cluster.members) {
        if (!m.process.running() || m.paused) continue;
        for (const role of ['reconcile', 'brain-poller'] as const) {
          const n = await cluster
            .metric(m.id, 'posguard_fenced_writes_total', { role })
            .catch(() => null);
          total[role] += n ?? 0;
        }
      }
      return total;
    },
    positions: async () =>
      Promise.all(
        symbols.map(async (symbol) => {
          const { ledger, problem } = await readLedger(redis, keys, symbol);
          return {
            symbol,
            ledger: ledger === null ? `none (${problem})` : formatAmount(ledger.amount),
            venue: cluster.venue.control.position(symbol).positionAmt,
          };
        }),
      ),
    finish: async (settleMs) => {
      await stopPipeline();
      const filled = (): ReturnType<typeof cluster.venue.control.orders> =>
        cluster.venue.control
          .orders(firstVenueOrder)
          .filter((o) => o.source === 'api' && o.status === 'FILLED');
      // The brains apply what is left in apply.result: wait for ledger = venue (bounded).
      const deadline = Date.now() + settleMs;
      let ends = await symbolEnds();
      while (ends.some((e) => !e.equal) && Date.now() < deadline) {
        await sleep(250);
        ends = await symbolEnds();
      }
      const venueOrders = cluster.venue.control.orders(firstVenueOrder);
      const fills = await fillsAfter(redis, keys.applyResultStream, startResultId);
      const applied = await existing(
        redis,
        fills.map((f) => keys.resultApplied(f.entryId)),
      );
      const appliedIds = new Set(
        fills.filter((f) => applied.has(keys.resultApplied(f.entryId))).map((f) => f.entryId),
      );
      const orders = ordersPerPlan(venueOrders, sent);
      const filledOrders = filled();
      const accounting = resultAccounting(filledOrders, fills, appliedIds);
      ends = await symbolEnds(filledOrders, fills, appliedIds);
      return {
        plansWithTwoAllows: plansWithTwoAllows(allows),
        plansWithTwoOrders: orders.plansWithTwoOrders,
        unattributedOrders: orders.unattributed,
        ...accounting,
        symbols: ends,
        ordersFilled: filledOrders.length,
        ordersRejected: venueOrders.filter((o) => o.source === 'api' && o.status !== 'FILLED')
          .length,
      };
    },
    stop: async () => {
      await stopPipeline();
      await cluster.stop().catch((error: unknown) => {
        options.logger.warn({ err: errorMessage(error) }, 'ha load: cluster stop failed');
      });
      await sentinel.stop();
    },
  };
  return load;

  async function symbolEnds(
    filledOrders: readonly { symbol: string }[] = [],
    fills: readonly Fill[] = [],
    appliedIds: ReadonlySet<string> = new Set(),
  ): Promise<HaAudit['symbols']> {
    return Promise.all(
      symbols.map(async (symbol) => {
        const { ledger, problem, epsilon } = await readLedger(redis, keys, symbol);
        const venue = new Decimal(cluster.venue.control.position(symbol).positionAmt);
        return symbolEnd({
          symbol,
          venue: venue.isZero() ? ZERO : venue,
          ledger,
          problem,
          versionAtStart: startLedgers.get(symbol) ?? null,
          epsilon,
          fills: filledOrders.filter((o) => o.symbol === symbol).length,
          fillsApplied: fills.filter((f) => f.symbol === symbol && appliedIds.has(f.entryId))
            .length,
        });
      }),
    );
  }
}
