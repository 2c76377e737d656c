/**
 * Figure: SIGSTOP/SIGCONT of each leader (issue 12, SPEC §11, LESSONS #24) — writes of the
 * role that land from a paused leader after a standby took over (target 0), and which
 * defence stopped each pause.
 *
 * Set-up and rounds as test/ha-process/fenced-leader.test.ts, repeated: two brains and two
 * engines of the built CLI against a private redis-server, lease 600 ms. The leader of a
 * role is SIGSTOPped for 2 s while it has work in hand, a standby takes the lease, the old
 * leader is SIGCONTed:
 * - reconcile: cycles every 100 ms, so a cycle is due when it wakes; every other round the
 *   server first holds every client's commands (`CLIENT PAUSE 300`), so the engine is
 *   stopped with a command in flight, its reply waiting in the socket;
 * - brain-poller: polls every 100 ms while the venue holds each positionRisk reply 300 ms,
 *   so the poller is stopped waiting for a reply it receives on waking.
 *
 * Per round, from the server's MONITOR feed (src/dev/write-watch.ts), every key: the role's
 * writes by the paused instance's connections from the standby's election until it is
 * elected again (if ever) — `landed`, target 0. From the paused instance: the increase of
 * `posguard_fenced_writes_total{role}` (writes the fence refused: nothing written) and the
 * reason of its step-down in its log (`expired` = its own deadline passed before it did
 * anything; `fenced` = a write of the old term was refused first; `lost` = its renewal
 * found the lease taken). So each round says which defence stopped it.
 *
 * Env: HA_FENCING_PAUSES (rounds per role; 20, quick 2), HA_FENCING_LEASE_MS (600),
 * HA_FENCING_PAUSE_MS (2000).
 */
import type { LeaderRole } from '../../src/domain/leadership.js';
import { HaCluster } from '../../src/dev/ha-cluster.js';
import { type OwnerOf, roleWritesBy, takeoverWrites } from '../../src/dev/takeover-writes.js';
import { type WriteWatch, watchWrites } from '../../src/dev/write-watch.js';
import { waitFor } from '../../src/dev/redis-process.js';
import { HoldProxy } from './hold-proxy.js';
import type { HaBenchOptions } from './run.js';
import { envInteger, loadNow, msSummary, sleep, startBenchRedis } from './common.js';

const HOLD_REPLY_MS = 300;
const POSITION_RISK = '/fapi/v2/positionRisk';

export interface PauseRound {
  role: LeaderRole;
  paused: string;
  by: string;
  inFlight: string;
  /** Pause → the lease names the standby. */
  electedAfterMs: number;
  /** Role writes by the paused instance between its election and the pause (the watch sees it). */
  writesBefore: number;
  /** Role writes by the paused instance from the standby's election on (target 0). */
  landed: string[];
  /** Increase of its posguard_fenced_writes_total{role} over the round. */
  fencedWrites: number;
  /** Reasons of its `no longer leading` lines after the pause, in order. */
  stepDowns: string[];
  /** Whether it logged `write refused by the fence` after the pause. */
  fenceLogged: boolean;
  /** SIGCONT → it shows it no longer leads (metric 0, presence claims nothing). */
  standbyAfterResumeMs: number;
}

/** Which defence stopped the round: the fence refused a write, or its own deadline (no write tried). */
export function defenceOf(r: PauseRound): string {
  if (r.fencedWrites > 0) return `fence (${r.stepDowns[0] ?? 'no step-down line'} first)`;
  if (r.stepDowns.length === 0) return 'no step-down logged';
  return `step-down ${r.stepDowns[0] as string}, no write tried`;
}

export async function run(options: HaBenchOptions): Promise<Record<string, unknown>> {
  const pauses = options.quick ? 2 : envInteger('HA_FENCING_PAUSES', 20);
  const transits = options.quick ? 1 : envInteger('HA_FENCING_TRANSITS', 10);
  const leaseMs = envInteger('HA_FENCING_LEASE_MS', 600);
  const pauseMs = envInteger('HA_FENCING_PAUSE_MS', 2000);
  const redis = await startBenchRedis('fencing');
  const loadAtStart = loadNow();
  const state: { watch: WriteWatch | null } = { watch: null };
  const clusterOptions = {
    brains: 2,
    engines: 2,
    redis: { url: redis.server.url },
    leaseMs,
    cadenceSec: 0.1,
    pollSec: 0.1,
    // A poll stopped mid-request still has its reply when it wakes (not timed out first).
    env: { BINANCE_TIMEOUT_SEC: '5' },
  };
  const base = { admin: redis.admin, pauseMs };
  try {
    // SIGSTOP/SIGCONT: the instances connect to Redis directly.
    options.progress(`SIGSTOP: 2 brains + 2 engines, lease ${leaseMs} ms, pause ${pauseMs} ms`);
    const rounds: PauseRound[] = [];
    await withCluster(clusterOptions, async (c) => {
      const w = await watchWrites(redis.admin, `${c.keyPrefix}:write-watch:probe`);
      state.watch = w;
      const ctx: RoundContext = { ...base, c, watch: w, ownerOf: (cl) => c.ownerOf(cl) };
      for (const role of ['reconcile', 'brain-poller'] as const) {
        for (let i = 0; i < pauses; i += 1) {
          const r = await pauseLeader(ctx, role, i);
          rounds.push(r);
          options.progress(`SIGSTOP ${role} ${i + 1}/${pauses}: ${describe(r)}`);
        }
      }
    });
    // Writes held in transit: every instance connects through its own hold proxy.
    options.progress(`in transit: the same, each instance through a proxy that can hold`);
    const held: PauseRound[] = [];
    const proxies = new Map<string, HoldProxy>();
    const target = { host: '127.0.0.1', port: redis.server.port };
    try {
      const memberEnv: Record<string, Record<string, string>> = {};
      for (const id of ['brain-1', 'brain-2', 'reconcile-1', 'reconcile-2']) {
        const proxy = await HoldProxy.start(target);
        proxies.set(id, proxy);
        memberEnv[id] = { REDIS_URL: `redis://127.0.0.1:${proxy.port}` };
      }
      // The proxies tell whose connection it is: no /proc scan needed.
      await withCluster({ ...clusterOptions, memberEnv, ownerScan: false }, async (c) => {
        const w = state.watch;
        if (w === null) throw new Error('no write watch');
        const ownerOf = (client: string): string | null => {
          for (const [id, proxy] of proxies) if (proxy.owns(client)) return id;
          return null;
        };
        const ctx: RoundContext = { ...base, c, watch: w, ownerOf };
        for (const role of ['reconcile', 'brain-poller'] as const) {
          for (let i = 0; i < transits; i += 1) {
            const r = await holdLeader(ctx, role, proxies);
            held.push(r);
            options.progress(`in transit ${role} ${i + 1}/${transits}: ${describe(r)}`);
          }
        }
      });
    } finally {
      for (const proxy of proxies.values()) await proxy.close();
    }
    const writesSeen = state.watch?.writes().length ?? 0;
    return {
      setup: { brains: 2, engines: 2, leaseMs, pauseMs, cadenceSec: 0.1, pollSec: 0.1 },
      sigstop: {
        reconcile: summaryOf(rounds, 'reconcile'),
        'brain-poller': summaryOf(rounds, 'brain-poller'),
      },
      inTransit: {
        reconcile: summaryOf(held, 'reconcile'),
        'brain-poller': summaryOf(held, 'brain-poller'),
      },
      writesWatched: writesSeen,
      rounds: [...rounds, ...held],
      machine: { ...redis.machine, loadAvgAtStart: loadAtStart, loadAvgAtEnd: loadNow() },
    };
  } finally {
    await state.watch?.stop();
    await redis.stop();
  }
}

async function withCluster(
  options: Parameters<typeof HaCluster.start>[0],
  body: (c: HaCluster) => Promise<void>,
): Promise<void> {
  const c = await HaCluster.start(options);
  try {
    await body(c);
  } finally {
    await c.stop().catch(() => undefined);
  }
}

function describe(r: PauseRound): string {
  return `${r.paused} (${r.inFlight}), ${r.by} elected after ${r.electedAfterMs} ms; landed ${r.landed.length}, fenced ${r.fencedWrites}, step-down ${r.stepDowns.join(',') || '-'}`;
}

function summaryOf(all: readonly PauseRound[], role: LeaderRole): Record<string, unknown> {
  const rs = all.filter((r) => r.role === role);
  const defences: Record<string, number> = {};
  for (const r of rs) defences[defenceOf(r)] = (defences[defenceOf(r)] ?? 0) + 1;
  return {
    rounds: rs.length,
    landed: rs.reduce((a, r) => a + r.landed.length, 0),
    landedWrites: rs.flatMap((r) => r.landed.map((l) => `${r.paused}: ${l}`)),
    roundsWithFencedWrites: rs.filter((r) => r.fencedWrites > 0).length,
    fencedWritesTotal: rs.reduce((a, r) => a + r.fencedWrites, 0),
    stepDownReasons: countOf(rs.map((r) => r.stepDowns[0] ?? 'none')),
    roundsFenceLogged: rs.filter((r) => r.fenceLogged).length,
    defences,
    inFlight: countOf(rs.map((r) => r.inFlight)),
    writesBeforeMin: rs.length === 0 ? null : Math.min(...rs.map((r) => r.writesBefore)),
    electedAfterMs: msSummary(rs.map((r) => r.electedAfterMs)),
    standbyAfterResumeMs: msSummary(rs.map((r) => r.standbyAfterResumeMs)),
  };
}

function countOf(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

interface RoundContext {
  c: HaCluster;
  watch: WriteWatch;
  admin: HaCluster['redis'];
  pauseMs: number;
  ownerOf: OwnerOf;
}

async function fencedCount(c: HaCluster, id: string, role: LeaderRole): Promise<number> {
  return (await c.metric(id, 'posguard_fenced_writes_total', { role })) ?? 0;
}

/** Waits until `id` has made `n` more writes of the role than now (it is at work, and seen). */
async function newerRoleWrites(
  ctx: RoundContext,
  role: LeaderRole,
  id: string,
  n: number,
): Promise<void> {
  await ctx.watch.flush();
  const from = ctx.watch.writes().at(-1)?.seq ?? 0;
  await waitFor(`${n} more ${role} writes from ${id}`, 20_000, async () => {
    await ctx.watch.flush();
    const writes = roleWritesBy(
      ctx.watch.writes(),
      ctx.c.keys,
      ctx.ownerOf,
      role,
      id,
      from,
      Infinity,
    );
    if (writes.length < n) throw new Error('not yet');
  });
}

async function workInHand(ctx: RoundContext, role: LeaderRole, round: number): Promise<string> {
  if (role === 'brain-poller') {
    ctx.c.venue.control.addFault({ kind: 'hold_reply', path: POSITION_RISK, ms: HOLD_REPLY_MS });
    await sleep(HOLD_REPLY_MS / 2); // pacing: the poller's next request is held
    return `positionRisk reply held ${HOLD_REPLY_MS} ms`;
  }
  if (round % 2 === 1) {
    await ctx.admin.call('CLIENT', 'PAUSE', '300', 'ALL');
    await sleep(150); // pacing: the engine's next cycle has sent its first command
    return 'command held by CLIENT PAUSE';
  }
  return 'cycle due';
}

async function pauseLeader(
  ctx: RoundContext,
  role: LeaderRole,
  round: number,
): Promise<PauseRound> {
  const { c, watch } = ctx;
  const paused = await c.waitForLeader(role);
  await newerRoleWrites(ctx, role, paused, 3);
  const epoch = await c.redis.get(c.keys.fence(role));
  const fencedBefore = await fencedCount(c, paused, role);
  const inFlight = await workInHand(ctx, role, round);
  c.pause(paused);
  const pausedAt = Date.now();
  c.venue.control.clearFaults();
  const by = await c.waitForLeader(role, paused, 10_000);
  const electedAfterMs = Date.now() - pausedAt;
  if (role === 'reconcile') await c.waitForHeartbeat(by, pausedAt, 10_000);
  await sleep(Math.max(0, pausedAt + ctx.pauseMs - Date.now())); // the pause lasts pauseMs
  c.resume(paused);
  const resumedAt = Date.now();
  await c.waitForStandby(paused, role);
  const standbyAfterResumeMs = Date.now() - resumedAt;
  // Whatever it had in hand has run by now: the new leader made three more writes after
  // the old one answered its metrics, and the feed has caught up.
  await c.scrape(paused);
  await newerRoleWrites(ctx, role, by, 3);
  await watch.flush();

  return {
    role,
    paused,
    by,
    inFlight,
    electedAfterMs,
    ...(await judge(ctx, role, paused, epoch, pausedAt, fencedBefore)),
    standbyAfterResumeMs,
  };
}

/** What the round's feed and the instance's log and metrics say, from `sinceMs` on. */
async function judge(
  ctx: RoundContext,
  role: LeaderRole,
  id: string,
  epoch: string | null,
  sinceMs: number,
  fencedBefore: number,
): Promise<
  Pick<PauseRound, 'writesBefore' | 'landed' | 'fencedWrites' | 'stepDowns' | 'fenceLogged'>
> {
  const { c, watch } = ctx;
  const writes = takeoverWrites(watch.writes(), c.keys, ctx.ownerOf, role, id, epoch);
  const lines = c.member(id).process.lines.filter((l) => l.atMs >= sinceMs);
  const stepDowns = lines
    .filter((l) => typeof l.json?.msg === 'string' && l.json.msg === `no longer leading ${role}`)
    .map((l) => (typeof l.json?.reason === 'string' ? l.json.reason : '?'));
  return {
    writesBefore: writes.before,
    landed: writes.landed,
    fencedWrites: (await fencedCount(c, id, role)) - fencedBefore,
    stepDowns,
    fenceLogged: lines.some((l) => /refused by the fence/.test(l.text)),
  };
}

/**
 * The leader's role writes and lease renewals are held in its proxy (sent, not yet run by
 * Redis) until a standby has taken over; then they reach Redis.
 */
async function holdLeader(
  ctx: RoundContext,
  role: LeaderRole,
  proxies: ReadonlyMap<string, HoldProxy>,
): Promise<PauseRound> {
  const { c, watch } = ctx;
  const leader = await c.waitForLeader(role);
  const proxy = proxies.get(leader);
  if (proxy === undefined) throw new Error(`no proxy for ${leader}`);
  await newerRoleWrites(ctx, role, leader, 3);
  const epoch = await c.redis.get(c.keys.fence(role));
  const fencedBefore = await fencedCount(c, leader, role);
  proxy.hold();
  const heldAt = Date.now();
  const by = await c.waitForLeader(role, leader, 10_000);
  const electedAfterMs = Date.now() - heldAt;
  if (role === 'reconcile') await c.waitForHeartbeat(by, heldAt, 10_000);
  // It stepped down on its own clock meanwhile (its held connection cannot write presence).
  await c.waitForStandby(leader, role, { presence: false });
  const heldConnections = proxy.heldConnections;
  const labels = [...proxy.heldLabels].sort();
  const released = proxy.release();
  const releasedAt = Date.now();
  // The held commands have run once the old leader answers again and the new one wrote on.
  await waitFor(`${leader}'s held commands to run`, 10_000, async () => {
    if ((await fencedCount(c, leader, role)) === fencedBefore && Date.now() - releasedAt < 1000)
      throw new Error('not yet');
  });
  await newerRoleWrites(ctx, role, by, 3);
  await watch.flush();
  return {
    role,
    paused: leader,
    by,
    inFlight: `${released} held on ${heldConnections} connections: ${labels.join(', ')}`,
    electedAfterMs,
    ...(await judge(ctx, role, leader, epoch, heldAt, fencedBefore)),
    standbyAfterResumeMs: 0,
  };
}
