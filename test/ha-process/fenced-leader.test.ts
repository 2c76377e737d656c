/**
 * A paused leader wakes up believing it leads (SPEC §11, LESSONS #24), on real processes:
 * two brains and two engines of the built CLI against one private redis-server, lease
 * 600 ms. The leader of a role is SIGSTOPped for 2 s — longer than its lease — while it has
 * work in hand; a standby takes the lease (a new epoch, the fence raised); then the old
 * leader is SIGCONTed.
 *
 * Work in hand when it stops:
 * - reconcile: cycles every 100 ms, so a cycle is always due when it wakes; every other
 *   round the server first holds every client's commands (`CLIENT PAUSE 300`), so the
 *   engine is stopped with a command in flight, its reply waiting in the socket.
 * - brain-poller: polls every 100 ms while the venue holds each positionRisk reply 300 ms,
 *   so the poller is stopped waiting for a reply it receives on waking.
 *
 * Asserted from the server's MONITOR feed (src/dev/write-watch.ts), for every key: from the
 * standby's election until the old leader is elected again (if ever), not one write of
 * the role by any connection of the old leader's process ran. It was seen writing the
 * role's keys before (the watch does see its writes). After waking it is a standby:
 * `posguard_leader{role}` 0 and its presence record claims nothing. Logged: its
 * `posguard_fenced_writes_total{role}` (a refused write) and how it stepped down.
 * At the end every instance exits 0 on SIGTERM and no lease is left.
 *
 * HA_PAUSES (rounds per role) and HA_CLI (another build's dist/src/cli/main.js — e.g. one
 * whose services run the role without a lease: this test then lists its writes) vary it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { LeaderRole } from '../../src/domain/leadership.js';
import type { HaCluster } from '../../src/dev/ha-cluster.js';
import { roleWritesBy, takeoverWrites } from '../../src/dev/takeover-writes.js';
import { type WriteWatch, watchWrites } from '../../src/dev/write-watch.js';
import { recordFigure } from '../helpers/reliability-figures.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { clusterPerFile } from './cluster-per-file.js';

const PAUSES = Number(process.env.HA_PAUSES ?? 3);
const LEASE_MS = 600;
const PAUSE_MS = 2000;
const HOLD_REPLY_MS = 300;
const POSITION_RISK = '/fapi/v2/positionRisk';
const NO_LOG = '(no log line)';

const ha = clusterPerFile({
  leaseMs: LEASE_MS,
  cadenceSec: 0.1,
  pollSec: 0.1,
  // A poll stopped mid-request still has its reply when it wakes (not timed out first).
  env: { BINANCE_TIMEOUT_SEC: '5' },
});
let redis: Redis;
let watch: WriteWatch;

beforeAll(async () => {
  redis = ha.redis();
  watch = await watchWrites(redis, `${ha.cluster().keyPrefix}:write-watch:probe`);
});

afterAll(async () => {
  await watch?.stop();
});

interface Round {
  role: LeaderRole;
  paused: string;
  by: string;
  inFlight: string;
  /** Writes of the role by the paused leader between its election and the pause. */
  writesBefore: number;
  /** …and between the standby's election and its own next one (must be 0). */
  writesAfter: string[];
  fencedWrites: number;
  steppedDown: string;
}

async function fencedCount(c: HaCluster, id: string, role: LeaderRole): Promise<number> {
  return (await c.metric(id, 'posguard_fenced_writes_total', { role })) ?? 0;
}

/** Brings the paused leader's work in hand about; returns what it is and how to end it. */
async function workInHand(c: HaCluster, role: LeaderRole, round: number): Promise<string> {
  if (role === 'brain-poller') {
    c.venue.control.addFault({ kind: 'hold_reply', path: POSITION_RISK, ms: HOLD_REPLY_MS });
    await sleep(HOLD_REPLY_MS / 2); // pacing: the poller's next request is held
    return `a positionRisk reply held ${HOLD_REPLY_MS} ms`;
  }
  if (round % 2 === 1) {
    await redis.call('CLIENT', 'PAUSE', '300', 'ALL');
    await sleep(150); // pacing: the engine's next cycle has sent its first command
    return 'a command held by CLIENT PAUSE';
  }
  return 'a cycle due';
}

async function pauseLeader(c: HaCluster, role: LeaderRole, round: number): Promise<Round> {
  const paused = await c.waitForLeader(role);
  await newerRoleWrites(c, role, paused, 3); // it is at work (and the watch sees it)
  const epoch = await redis.get(c.keys.fence(role));
  const fencedBefore = await fencedCount(c, paused, role);
  const inFlight = await workInHand(c, role, round);
  c.pause(paused);
  const pausedAt = Date.now();
  c.venue.control.clearFaults();
  const by = await c.waitForLeader(role, paused, 10_000);
  // The new leader's first full cycle: its heartbeat, written after the pause.
  if (role === 'reconcile') await c.waitForHeartbeat(by, pausedAt);
  await sleep(Math.max(0, pausedAt + PAUSE_MS - Date.now())); // pacing: the pause lasts 2 s
  c.resume(paused);
  // A standby again: it says so on its metrics and in its presence record.
  await c.waitForStandby(paused, role);
  // Whatever it had in hand has run by now: the new leader wrote three more cycles/polls
  // after the old one answered, and the feed has caught up.
  await c.scrape(paused);
  await newerRoleWrites(c, role, by, 3);
  await watch.flush();

  const writes = takeoverWrites(watch.writes(), c.keys, ownerOf(c), role, paused, epoch);
  const lines = c.member(paused).process.lines;
  const steppedDown =
    lines
      .filter((l) => l.atMs >= pausedAt && /no longer leading|refused by the fence/.test(l.text))
      .map((l) => `${text(l.json?.msg) ?? l.text} (${text(l.json?.reason) ?? ''})`)
      .join('; ') || NO_LOG;
  return {
    role,
    paused,
    by,
    inFlight,
    writesBefore: writes.before,
    writesAfter: writes.landed,
    fencedWrites: (await fencedCount(c, paused, role)) - fencedBefore,
    steppedDown,
  };
}

function ownerOf(c: HaCluster): (client: string) => string | null {
  return (client) => c.ownerOf(client);
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** Waits until `id` has made `n` more writes of the role than now. */
async function newerRoleWrites(
  c: HaCluster,
  role: LeaderRole,
  id: string,
  n: number,
): Promise<void> {
  await watch.flush();
  const count = (): number =>
    roleWritesBy(watch.writes(), c.keys, ownerOf(c), role, id, 0, Infinity).length;
  const start = count();
  await waitFor(
    async () => {
      await watch.flush();
      return count() >= start + n;
    },
    { what: `${n} more ${role} writes from ${id}` },
  );
}

describe('HA on processes: a paused leader wakes up fenced', () => {
  for (const role of ['reconcile', 'brain-poller'] as const) {
    it(`${role}: SIGSTOP ${PAUSE_MS} ms (lease ${LEASE_MS} ms) × ${PAUSES}: not one of its writes lands, it becomes a standby`, async () => {
      const c = ha.cluster();
      const rounds: Round[] = [];
      for (let i = 0; i < PAUSES; i += 1) rounds.push(await pauseLeader(c, role, i));
      process.stdout.write(`[ha] ${role} pauses: ${JSON.stringify(rounds, null, 1)}\n`);
      for (const r of rounds) {
        expect(r.by).not.toBe(r.paused);
        expect(
          r.writesBefore,
          `the watch saw ${r.paused}'s ${role} writes before the pause`,
        ).toBeGreaterThan(0);
        expect(r.writesAfter, `${r.paused}'s ${role} writes after the takeover`).toEqual([]);
        expect(r.steppedDown, `${r.paused} logs that it stepped down`).not.toBe(NO_LOG);
      }
      recordFigure('ha-process', {
        fault: `SIGSTOP ${PAUSE_MS} ms of the ${role} leader (lease ${LEASE_MS} ms)`,
        test: 'test/ha-process/fenced-leader.test.ts',
        iterations: PAUSES,
        observed: `writes landed from the fenced leader: 0; refused by the fence: ${rounds.map((r) => r.fencedWrites).join(', ')}`,
        lost: 0,
        extra: {
          rounds: rounds.map((r) => ({ inFlight: r.inFlight, steppedDown: r.steppedDown })),
        },
      });
    }, 120_000);
  }

  it('SIGTERM: every instance exits 0 and no lease is left', async () => {
    await ha.stopsCleanly();
  }, 30_000);
});
