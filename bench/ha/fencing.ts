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
import { HaCluster, type HaService } from '../../src/dev/ha-cluster.js';
import { fenceRaises, isRoleWrite } from '../../src/dev/role-writes.js';
import { type WriteWatch, watchWrites } from '../../src/dev/write-watch.js';
import { waitFor } from '../../src/dev/redis-process.js';
import type { HaBenchOptions } from './run.js';
import { loadNow, msSummary, sleep, startBenchRedis } from './common.js';

const HOLD_REPLY_MS = 300;
const POSITION_RISK = '/fapi/v2/positionRisk';
const SERVICE: Record<LeaderRole, HaService> = { reconcile: 'reconcile', 'brain-poller': 'brain' };

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new Error(`${name}=${raw}: expected an integer > 0`);
  return value;
}

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
  const pauses = options.quick ? 2 : envNumber('HA_FENCING_PAUSES', 20);
  const leaseMs = envNumber('HA_FENCING_LEASE_MS', 600);
  const pauseMs = envNumber('HA_FENCING_PAUSE_MS', 2000);
  const redis = await startBenchRedis('fencing');
  const loadAtStart = loadNow();
  let cluster: HaCluster | null = null;
  let watch: WriteWatch | null = null;
  try {
    options.progress(`2 brains + 2 engines, lease ${leaseMs} ms, pause ${pauseMs} ms`);
    const c = await HaCluster.start({
      brains: 2,
      engines: 2,
      redis: { url: redis.server.url },
      leaseMs,
      cadenceSec: 0.1,
      pollSec: 0.1,
      // A poll stopped mid-request still has its reply when it wakes (not timed out first).
      env: { BINANCE_TIMEOUT_SEC: '5' },
    });
    cluster = c;
    const w = await watchWrites(redis.admin, `${c.keyPrefix}:write-watch:probe`);
    watch = w;
    const ctx: RoundContext = { c, watch: w, admin: redis.admin, pauseMs };
    const rounds: PauseRound[] = [];
    for (const role of ['reconcile', 'brain-poller'] as const) {
      for (let i = 0; i < pauses; i += 1) {
        const r = await pauseLeader(ctx, role, i);
        rounds.push(r);
        options.progress(
          `${role} ${i + 1}/${pauses}: ${r.paused} paused (${r.inFlight}), ${r.by} elected after ${r.electedAfterMs} ms; landed ${r.landed.length}, fenced ${r.fencedWrites}, step-down ${r.stepDowns.join(',') || '-'}`,
        );
      }
    }
    const writesSeen = w.writes().length;
    const byRole = (role: LeaderRole): Record<string, unknown> => {
      const rs = rounds.filter((r) => r.role === role);
      const defences: Record<string, number> = {};
      for (const r of rs) defences[defenceOf(r)] = (defences[defenceOf(r)] ?? 0) + 1;
      return {
        pauses: rs.length,
        landed: rs.reduce((a, r) => a + r.landed.length, 0),
        landedWrites: rs.flatMap((r) => r.landed.map((l) => `${r.paused}: ${l}`)),
        roundsWithFencedWrites: rs.filter((r) => r.fencedWrites > 0).length,
        fencedWritesTotal: rs.reduce((a, r) => a + r.fencedWrites, 0),
        stepDownReasons: countOf(rs.map((r) => r.stepDowns[0] ?? 'none')),
        roundsFenceLogged: rs.filter((r) => r.fenceLogged).length,
        defences,
        inFlight: countOf(rs.map((r) => r.inFlight)),
        writesBeforeMin: Math.min(...rs.map((r) => r.writesBefore)),
        electedAfterMs: msSummary(rs.map((r) => r.electedAfterMs)),
        standbyAfterResumeMs: msSummary(rs.map((r) => r.standbyAfterResumeMs)),
      };
    };
    return {
      setup: { brains: 2, engines: 2, leaseMs, pauseMs, cadenceSec: 0.1, pollSec: 0.1 },
      reconcile: byRole('reconcile'),
      'brain-poller': byRole('brain-poller'),
      writesWatched: writesSeen,
      rounds,
      machine: { ...redis.machine, loadAvgAtStart: loadAtStart, loadAvgAtEnd: loadNow() },
    };
  } finally {
    await watch?.stop();
    await cluster?.stop().catch(() => undefined);
    await redis.stop();
  }
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
}

async function fencedCount(c: HaCluster, id: string, role: LeaderRole): Promise<number> {
  return (await c.metric(id, 'posguard_fenced_writes_total', { role })) ?? 0;
}

function writesBy(
  ctx: RoundContext,
  role: LeaderRole,
  id: string,
  afterSeq: number,
  beforeSeq: number,
) {
  const { c, watch } = ctx;
  return watch
    .writes()
    .filter((w) => w.seq > afterSeq && w.seq < beforeSeq && c.ownerOf(w.client) === id)
    .filter((w) => isRoleWrite(role, c.keys, SERVICE[role], w));
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
    if (writesBy(ctx, role, id, from, Infinity).length < n) throw new Error('not yet');
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
  if (role === 'reconcile') {
    // The new leader's first full cycle: its heartbeat, written after the pause.
    await waitFor(`a heartbeat from ${by}`, 10_000, async () => {
      const hb = await c.heartbeat();
      if (hb === null || hb.ts_ms <= pausedAt || hb.instance !== by) throw new Error('not yet');
    });
  }
  await sleep(Math.max(0, pausedAt + ctx.pauseMs - Date.now())); // the pause lasts pauseMs
  c.resume(paused);
  const resumedAt = Date.now();
  await waitFor(`${paused} to show it no longer leads ${role}`, 20_000, async () => {
    const leading = await c.metric(paused, 'posguard_leader', { role }).catch(() => null);
    const presence = await c.presence(paused);
    if (leading !== 0 || !presence.ok || presence.record.leader_of.some((l) => l.role === role))
      throw new Error('still leading');
  });
  const standbyAfterResumeMs = Date.now() - resumedAt;
  // Whatever it had in hand has run by now: the new leader made three more writes after
  // the old one answered its metrics, and the feed has caught up.
  await c.scrape(paused);
  await newerRoleWrites(ctx, role, by, 3);
  await watch.flush();

  const raises = fenceRaises(role, c.keys, watch.writes());
  const elected = raises.filter((r) => r.epoch === epoch).at(-1)?.seq ?? 0;
  const takeover = raises.find((r) => r.seq > elected && r.epoch !== epoch);
  if (takeover === undefined) throw new Error(`no fence raise after epoch ${epoch} in the feed`);
  const reElected =
    raises.find((r) => r.seq > takeover.seq && c.ownerOf(r.client) === paused)?.seq ?? Infinity;
  const lines = c.member(paused).process.lines.filter((l) => l.atMs >= pausedAt);
  const stepDowns = lines
    .filter((l) => typeof l.json?.msg === 'string' && l.json.msg === `no longer leading ${role}`)
    .map((l) => (typeof l.json?.reason === 'string' ? l.json.reason : '?'));
  const fenceLogged = lines.some((l) => /refused by the fence/.test(l.text));
  return {
    role,
    paused,
    by,
    inFlight,
    electedAfterMs,
    writesBefore: writesBy(ctx, role, paused, elected, takeover.seq).length,
    landed: writesBy(ctx, role, paused, takeover.seq, reElected).map(
      (w) => `#${w.seq} ${w.command} ${w.keys.join(' ')}${w.viaScript ? ' (script)' : ''}`,
    ),
    fencedWrites: (await fencedCount(c, paused, role)) - fencedBefore,
    stepDowns,
    fenceLogged,
    standbyAfterResumeMs,
  };
}
