/**
 * Figure: takeover after SIGKILL of the reconcile leader (issue 12, SPEC §11: "default
 * timings make a takeover finish before the heartbeat expires, so a leader's death costs
 * no reconcile_engine_down denials").
 *
 * Two brains and two engines of the built CLI (src/dev/ha-cluster.ts) against a private
 * redis-server, at the service defaults POSGUARD_LEASE_MS=3000 and
 * P34_LOOP_CADENCE_SEC=1.0 (heartbeat TTL max(5 s, 3 × cadence) = 5 s). Plans arrive
 * steadily the whole run. The leading engine is SIGKILLed `kills` times (20; quick 3),
 * at a phase that moves through the cycle/renewal period from kill to kill, and each
 * time restarted as the standby once the takeover is seen, so two engines always run.
 *
 * Per kill, from the cluster's own connection (polled every 10 ms):
 * - the lease's PTTL just before the SIGKILL and just after the exit (they differ when the
 *   leader renewed in between), and the time until the lease names the standby;
 * - first cycle: kill → the first heartbeat naming the standby (the heartbeat is the last
 *   write of a full cycle), as seen by the poll;
 * - heartbeat margin: the dead leader's heartbeat's expiry (its PTTL read just after the
 *   kill) minus the moment the new one was seen. Negative = a window with no heartbeat,
 *   in which permits deny `reconcile_engine_down`.
 * Over the run: every plan's permit (read while the run goes on), the
 * `reconcile_engine_down` denials among them (target 0), and the brains' own counter of
 * those denials (`p33_permit_deny_total{reason="reconcile_engine_down"}`) as a check.
 *
 * Env: HA_TAKEOVER_KILLS, HA_TAKEOVER_LEASE_MS, HA_TAKEOVER_CADENCE_SEC,
 * HA_TAKEOVER_PLANS_PER_SEC vary the run (the figure in docs/ uses the defaults).
 */
import { HaCluster } from '../../src/dev/ha-cluster.js';
import { heartbeatTtlMs } from '../../src/domain/reconcile-heartbeat.js';
import { takeoverBudget } from '../../src/domain/leadership.js';
import {
  PlanStream,
  type PlanStreamRun,
  engineDownDenials,
  outcomeCounts,
} from '../../src/dev/plan-stream.js';
import type { HaBenchOptions } from './run.js';
import {
  counterSum,
  envNumber,
  loadNow,
  msSummary,
  scrapeOrNull,
  sleep,
  startBenchRedis,
} from './common.js';

const POSITIONS = { BTCUSDT: '0.05', ETHUSDT: '1.2' };
const POLL_EVERY_MS = 10;
const TAKEOVER_TIMEOUT_MS = 20_000;

export interface KillRecord {
  killed: string;
  by: string;
  /** How long after the start of the (cadence-long) phase window the kill was sent. */
  phaseMs: number;
  /** The lease's PTTL read just before the SIGKILL was sent. */
  leaseLeftBeforeKillMs: number;
  /**
   * Its PTTL read just after the process exited: what the standby waits for. Larger than
   * the one before when the leader renewed in the few ms between that read and its death.
   */
  leaseLeftAfterKillMs: number;
  /** Kill → the lease names the standby. */
  electedMs: number;
  /** Kill → the standby's first heartbeat seen (its first full cycle). */
  firstCycleMs: number;
  /** The dead leader's heartbeat expiry − the new heartbeat seen (> 0: no gap). */
  heartbeatMarginMs: number;
  /** The dead leader's last heartbeat written → the new leader's (heartbeats' ts_ms). */
  heartbeatGapMs: number;
  /** Kill → the killed instance back as a standby (restart, presence record). */
  restartedMs: number;
}

interface Beat {
  ts_ms: number;
  instance?: string;
  epoch?: number;
}

export async function run(options: HaBenchOptions): Promise<Record<string, unknown>> {
  const kills = options.quick ? 3 : envNumber('HA_TAKEOVER_KILLS', 20);
  const leaseMs = envNumber('HA_TAKEOVER_LEASE_MS', 3000);
  const cadenceSec = envNumber('HA_TAKEOVER_CADENCE_SEC', 1.0);
  const plansPerSec = envNumber('HA_TAKEOVER_PLANS_PER_SEC', 50);
  const ttlMs = heartbeatTtlMs(cadenceSec);
  const redis = await startBenchRedis('takeover');
  const loadAtStart = loadNow();
  let cluster: HaCluster | null = null;
  try {
    options.progress(`2 brains + 2 engines, lease ${leaseMs} ms, cadence ${cadenceSec} s`);
    const c = await HaCluster.start({
      brains: 2,
      engines: 2,
      redis: { url: redis.server.url },
      positions: POSITIONS,
      leaseMs,
      cadenceSec,
      pollSec: 0.5,
      ownerScan: false,
    });
    cluster = c;
    const brains = c.members.filter((m) => m.service === 'brain').map((m) => m.id);
    const denyCounter = async (): Promise<number | null> => {
      let sum = 0;
      for (const id of brains) {
        const text = await scrapeOrNull(c, id);
        if (text === null) return null;
        sum += counterSum(text, 'p33_permit_deny_total', 'reason="reconcile_engine_down"');
      }
      return sum;
    };
    const denyBefore = await denyCounter();
    const stream = new PlanStream(
      redis.admin,
      c.keys,
      Object.keys(POSITIONS),
      plansPerSec,
      'ha-takeover',
    );
    stream.start();
    const records: KillRecord[] = [];
    let planRun: PlanStreamRun;
    try {
      await sleep(2000); // plans flowing before the first kill
      for (let k = 0; k < kills; k += 1) {
        records.push(await killOnce(c, k, cadenceSec, ttlMs));
        const r = records.at(-1) as KillRecord;
        options.progress(
          `kill ${k + 1}/${kills}: ${r.killed} → ${r.by}: elected ${r.electedMs} ms, first cycle ${r.firstCycleMs} ms, heartbeat margin ${r.heartbeatMarginMs} ms`,
        );
      }
      await sleep(2000); // plans after the last takeover
    } finally {
      planRun = await stream.stop();
    }
    const denyAfter = await denyCounter();
    const denials = engineDownDenials(planRun.outcomes);
    const budget = takeoverBudget(leaseMs, cadenceSec, ttlMs);
    return {
      setup: {
        brains: 2,
        engines: 2,
        leaseMs,
        cadenceSec,
        heartbeatTtlMs: ttlMs,
        pollSec: 0.5,
        plansPerSec,
        symbols: Object.keys(POSITIONS),
        pollEveryMs: POLL_EVERY_MS,
        worstCaseGapMs: budget.worstGapMs,
      },
      kills: records.length,
      electedMs: msSummary(records.map((r) => r.electedMs)),
      firstCycleMs: msSummary(records.map((r) => r.firstCycleMs)),
      heartbeatGapMs: msSummary(records.map((r) => r.heartbeatGapMs)),
      heartbeatMarginMs: msSummary(records.map((r) => r.heartbeatMarginMs)),
      killsWithHeartbeatGap: records.filter((r) => r.heartbeatMarginMs <= 0).length,
      plans: {
        sent: planRun.sent,
        answered: planRun.outcomes.length,
        unanswered: planRun.unanswered,
        xaddErrors: planRun.xaddErrors,
        outcomes: outcomeCounts(planRun.outcomes),
        reconcileEngineDownDenials: denials.length,
        engineDownPlans: denials.slice(0, 20).map((p) => `${p.planId} ${p.symbol} @${p.addedMs}`),
        brainsCounterEngineDown:
          denyAfter === null || denyBefore === null ? null : denyAfter - denyBefore,
      },
      records,
      machine: { ...redis.machine, loadAvgAtStart: loadAtStart, loadAvgAtEnd: loadNow() },
    };
  } finally {
    await cluster?.stop().catch(() => undefined);
    await redis.stop();
  }
}

async function killOnce(
  c: HaCluster,
  k: number,
  cadenceSec: number,
  ttlMs: number,
): Promise<KillRecord> {
  const killed = await c.waitForLeader('reconcile');
  const standby = c.members.find((m) => m.service === 'reconcile' && m.id !== killed);
  if (standby === undefined) throw new Error('no standby engine');
  // The kill's phase moves through the cadence from kill to kill (389 ms steps mod cadence).
  const cadenceMs = Math.round(cadenceSec * 1000);
  const phaseMs = (k * 389) % cadenceMs;
  await sleep(500 + phaseMs);
  const leaseLeftBeforeKillMs = await c.redis.pttl(c.keys.lease('reconcile'));
  const killedAt = Date.now();
  await c.kill(killed, 'SIGKILL');
  // The dead leader's last heartbeat and when it lapses (the engine is gone: it cannot change).
  const [lastRaw, lastTtl, leaseTtl] = await Promise.all([
    c.redis.get(c.keys.reconcileHeartbeat),
    c.redis.pttl(c.keys.reconcileHeartbeat),
    c.redis.pttl(c.keys.lease('reconcile')),
  ]);
  const readAt = Date.now();
  const last = lastRaw === null ? null : (JSON.parse(lastRaw) as Beat);
  const lastExpiresAt = lastTtl > 0 ? readAt + lastTtl : readAt;
  let electedAt: number | null = null;
  let beat: Beat | null = null;
  let seenAt = 0;
  while (beat === null) {
    if (Date.now() - killedAt > TAKEOVER_TIMEOUT_MS)
      throw new Error(
        `no heartbeat from ${standby.id} within ${TAKEOVER_TIMEOUT_MS} ms of the kill`,
      );
    const [holder, raw] = await Promise.all([
      c.redis.get(c.keys.lease('reconcile')),
      c.redis.get(c.keys.reconcileHeartbeat),
    ]);
    const now = Date.now();
    if (electedAt === null && holder === standby.id) electedAt = now;
    if (raw !== null) {
      const hb = JSON.parse(raw) as Beat;
      if (hb.instance === standby.id && hb.ts_ms > killedAt) {
        beat = hb;
        seenAt = now;
        electedAt ??= now;
        break;
      }
    }
    await sleep(POLL_EVERY_MS);
  }
  await c.restart(killed);
  await waitStandby(c, killed);
  return {
    killed,
    by: standby.id,
    phaseMs,
    leaseLeftBeforeKillMs,
    leaseLeftAfterKillMs: leaseTtl + (readAt - killedAt),
    electedMs: (electedAt ?? seenAt) - killedAt,
    firstCycleMs: seenAt - killedAt,
    heartbeatMarginMs: lastExpiresAt - seenAt,
    heartbeatGapMs: beat.ts_ms - (last?.ts_ms ?? killedAt - ttlMs),
    restartedMs: Date.now() - killedAt,
  };
}

/** Back as a standby: its presence record campaigns for reconcile and leads nothing. */
async function waitStandby(c: HaCluster, id: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const p = await c.presence(id);
    if (p.ok && p.record.roles.includes('reconcile') && p.record.leader_of.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${id} did not come back as a standby`);
    await sleep(50);
  }
}
