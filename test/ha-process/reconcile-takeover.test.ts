/**
 * SIGKILL of the reconcile leader on real processes (SPEC §11, issue 12): two brains and two
 * engines of the built CLI against one private redis-server, at the default lease
 * (POSGUARD_LEASE_MS=3000). While plans arrive every 40 ms, the leading engine is killed
 * HA_KILLS times (default 3), each time restarted as the standby.
 *
 * Asserted: each time the standby takes the lease and completes a full cycle (its
 * heartbeat — the last write of a cycle — written after the kill), every plan gets a
 * permit and none is denied `reconcile_engine_down`; at the end every instance exits 0 on
 * SIGTERM and no lease or presence record is left. Logged, not asserted: the time from the
 * kill to that first full cycle.
 *
 * HA_KILLS, HA_LEASE_MS (e.g. 8000: a takeover slower than the heartbeat's 5 s, and the
 * denials it costs) and HA_CLI (another build's dist/src/cli/main.js) vary the run.
 */
import { describe, expect, it } from 'vitest';
import {
  PlanStream,
  type PlanStreamRun,
  engineDownDenials,
  outcomeCounts,
} from '../../src/dev/plan-stream.js';
import { recordFigure } from '../helpers/reliability-figures.js';
import { waitFor } from '../helpers/wait.js';
import { clusterPerFile } from './cluster-per-file.js';

const KILLS = Number(process.env.HA_KILLS ?? 3);
/** The service default; HA_LEASE_MS shows what another lease costs. */
const LEASE_MS = Number(process.env.HA_LEASE_MS ?? 3000);
const POSITIONS = { BTCUSDT: '0.05', ETHUSDT: '1.2' };

const ha = clusterPerFile({ positions: POSITIONS, leaseMs: LEASE_MS, cadenceSec: 0.2 });

interface Takeover {
  killed: string;
  by: string;
  /** Kill → the new leader's heartbeat's ts_ms (the end of its first full cycle). */
  firstCycleMs: number;
  /** The old leader's last heartbeat → the new leader's first one. */
  heartbeatGapMs: number;
}

describe('HA on processes: SIGKILL of the reconcile leader', () => {
  it(`${KILLS} kills: the standby's first full cycle comes without a reconcile_engine_down denial`, async () => {
    const c = ha.cluster();
    const redis = ha.redis();
    const feed = new PlanStream(redis, c.keys, Object.keys(POSITIONS), 25, 'takeover');
    feed.start();
    const takeovers: Takeover[] = [];
    let plans: PlanStreamRun;
    try {
      for (let k = 0; k < KILLS; k += 1) {
        const killed = await c.waitForLeader('reconcile');
        const standby = c.members.find((m) => m.service === 'reconcile' && m.id !== killed);
        if (standby === undefined) throw new Error('no standby engine');
        const last = await c.heartbeat();
        const killedAt = Date.now();
        await c.kill(killed, 'SIGKILL');
        // The standby's first full cycle: a heartbeat it wrote after the kill.
        const beat = await c.waitForHeartbeat(standby.id, killedAt, 15_000);
        expect(await c.leaderOf('reconcile')).toBe(standby.id);
        // The heartbeat names the leader's epoch (SPEC §11): the fence it raised.
        if (beat.epoch !== undefined)
          expect(String(beat.epoch)).toBe(await redis.get(c.keys.fence('reconcile')));
        takeovers.push({
          killed,
          by: standby.id,
          firstCycleMs: beat.ts_ms - killedAt,
          heartbeatGapMs: beat.ts_ms - (last?.ts_ms ?? killedAt),
        });
        await c.restart(killed);
        // Back as a standby: campaigning (presence record), not leading.
        await waitFor(async () => {
          const p = await c.presence(killed);
          return p.ok && p.record.roles.includes('reconcile') && p.record.leader_of.length === 0;
        });
      }
    } finally {
      plans = await feed.stop(15_000);
    }
    const permits = plans.outcomes;
    const outcomes = outcomeCounts(permits);
    process.stdout.write(
      `[ha] takeovers: ${JSON.stringify(takeovers)}\n[ha] ${permits.length} plans: ${JSON.stringify(outcomes)}\n`,
    );
    expect(takeovers).toHaveLength(KILLS);
    // Every plan got a permit.
    expect([plans.xaddErrors, plans.unanswered]).toEqual([0, 0]);
    expect(engineDownDenials(permits).map((p) => `${p.planId} (${p.symbol})`)).toEqual([]);
    expect(permits.length).toBeGreaterThan(0);
    recordFigure('ha-process', {
      fault: `SIGKILL of the reconcile leader (lease ${LEASE_MS} ms, cadence 0.2 s, 2 brains, 2 engines)`,
      test: 'test/ha-process/reconcile-takeover.test.ts',
      iterations: KILLS,
      observed: `${permits.length} plans during the kills: ${JSON.stringify(outcomes)}; reconcile_engine_down denials 0`,
      lost: 0,
      recoveryMs: takeovers.map((t) => t.firstCycleMs),
      extra: { heartbeatGapMs: takeovers.map((t) => t.heartbeatGapMs) },
    });
  }, 120_000);

  it('SIGTERM: every instance exits 0 and leaves no lease or presence record', async () => {
    const keys = await ha.stopsCleanly();
    expect(await ha.redis().keys(`${keys.instanceKeyPrefix}*`)).toEqual([]);
  }, 30_000);
});
