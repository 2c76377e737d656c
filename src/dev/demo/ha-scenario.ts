/**
 * `posguard demo --scenario ha` (SPEC §11, issue 12): two brains and two reconcile engines
 * as child processes over a Sentinel-managed pair, the simulated venue and pipeline under
 * continuous load, and three faults, each narrated:
 *
 * 1. SIGKILL of the reconcile leader — a standby takes the lease and completes a full cycle
 *    (its heartbeat); the killed instance is restarted and comes back as a standby.
 * 2. SIGSTOP of the brain-poller leader for twice its lease, then SIGCONT — a standby leads
 *    meanwhile; the woken instance shows it no longer leads (fenced or stepped down).
 * 3. SENTINEL FAILOVER — the instances drop their leases and re-elect on the new master (a
 *    higher fence for each role), and ALLOW permits are consumed through the gate on the new
 *    master.
 *
 * After each fault an ALLOW permit must again be consumed through the gate for a plan
 * published after the fault, all within BOUND_MS. At the end the load stops and the run is
 * audited (ha-audit.ts). The verdict is ha-verdict.ts.
 *
 * `sabotage` breaks an invariant on purpose, so the verdict can be seen to FAIL:
 * `external-trade` (a trade on the venue behind posguard's back after the failover: no fill
 * reaches it, so the ledger cannot equal the venue) and `apply-twice` (the Apply Layer sends
 * one allowed close twice: two orders for one plan on the venue).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Decimal } from '../../domain/amount.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { HaAudit } from '../ha-audit.js';
import { type HaLoad, startHaLoad } from '../ha-load.js';
import { type HaCheck, type HaDemoSummary, type HaFaultReport, judgeHaDemo } from './ha-verdict.js';

export const HA_SABOTAGES = ['external-trade', 'apply-twice'] as const;
export type HaSabotage = (typeof HA_SABOTAGES)[number];

export interface HaDemoOptions {
  durationSec: number;
  display: 'tty' | 'lines' | 'none';
  out: NodeJS.WritableStream;
  logger: Logger;
  signal?: AbortSignal;
  sabotage?: readonly HaSabotage[];
  /** The CLI the instances run (default: a snapshot of the working tree's build). */
  cli?: string;
  /** Each instance's output is written here as `<id>.log` at the end. */
  logDir?: string;
}

/** Every fault: a new leader/term and an ALLOW consumed through the gate within this. */
export const BOUND_MS = 15_000;
const LEASE_MS = 3000;
const PAUSE_MS = 2 * LEASE_MS;
const RATE_PER_SEC = 20;
const MIN_REPLICAS_ACK = 1;
const SETTLE_END_MS = 20_000;
const TARGETS = new Map([
  ['BTCUSDT', new Decimal('0.05')],
  ['ETHUSDT', new Decimal('-1.2')],
]);

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Error('demo aborted'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Error('demo aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const secs = (ms: number | null): string => (ms === null ? '—' : `${(ms / 1000).toFixed(2)} s`);

/** Pacing: --duration 60 is as written; shorter runs shrink the pauses to their floors. */
export function haTiming(durationSec: number): { warmupMs: number; settleMs: number } {
  const f = Math.min(3, Math.max(0.1, durationSec / 60));
  return {
    warmupMs: Math.max(2000, Math.round(5000 * f)),
    settleMs: Math.max(1500, Math.round(4000 * f)),
  };
}

export async function runHaDemo(options: HaDemoOptions): Promise<HaDemoSummary> {
  const { signal } = options;
  const sabotage = [...new Set(options.sabotage ?? [])];
  const timing = haTiming(options.durationSec);
  const startedMs = Date.now();
  let step = 'starting';
  let lastStatus = '';
  const tty = options.display === 'tty';
  const write = (text: string): void => {
    if (options.display === 'none') return;
    options.out.write(tty ? `\r\x1b[K${text}\n${lastStatus}` : `${text}\n`);
  };
  const narrate = (text: string): void => {
    const t = ((Date.now() - startedMs) / 1000).toFixed(1).padStart(5);
    write(`[${t} s] ${text}`);
  };

  const load = await startHaLoad({
    logger: options.logger,
    minReplicasAck: MIN_REPLICAS_ACK,
    ratePerSec: RATE_PER_SEC,
    targets: TARGETS,
    keeperEveryMs: 1000,
    leaseMs: LEASE_MS,
    cooldownSec: 0.5,
    governorDenyFraction: 0.05,
    ...(options.cli === undefined ? {} : { cli: options.cli }),
    progress: narrate,
  });
  const environment = {
    redis: `Sentinel set-up: master :${load.sentinel.dataNodes[0]?.port ?? '?'}, replica :${load.sentinel.dataNodes[1]?.port ?? '?'}, sentinels ${load.sentinel.sentinelList}`,
    instances: `${load.cluster.members.map((m) => m.id).join(', ')} (child processes), POSGUARD_LEASE_MS=${LEASE_MS}`,
    load: `${RATE_PER_SEC} plans/s on ${load.symbols.join(', ')}; REDIS_MIN_REPLICAS_ACK=${MIN_REPLICAS_ACK} for the brains, the gate and the Apply Layer's result writes`,
    venue: load.cluster.venue.baseUrl,
  };
  narrate(`running: ${environment.instances}; ${environment.load}`);

  const status = startStatus(
    load,
    options,
    () => step,
    startedMs,
    (line) => {
      lastStatus = line;
    },
  );
  const faults: HaFaultReport[] = [];
  const baseline: HaCheck[] = [];
  let audit: HaAudit | null = null;
  let error: string | null = null;
  try {
    step = 'warm-up';
    narrate(`warm-up ${secs(timing.warmupMs)}: plans flow, permits are consumed through the gate`);
    const warmFrom = Date.now();
    await sleep(timing.warmupMs, signal);
    const flowing = await load.flowAfter(warmFrom, BOUND_MS);
    baseline.push({
      label: 'an ALLOW consumed through the gate',
      ok: flowing !== null,
      detail: flowing === null ? `none within ${secs(BOUND_MS)}` : `plan ${flowing.planId}`,
    });
    if (sabotage.includes('apply-twice')) {
      narrate('SABOTAGE apply-twice: the Apply Layer will send its next allowed close twice');
      load.pipeline.apply.sendNextCloseTwice();
    }

    step = '1/3 kill the reconcile leader';
    faults.push(await killReconcileLeader(load, narrate));
    await sleep(timing.settleMs, signal);

    step = '2/3 pause the brain-poller leader';
    faults.push(await pausePollerLeader(load, narrate, signal));
    await sleep(timing.settleMs, signal);

    step = '3/3 Redis failover';
    faults.push(await failover(load, narrate));

    if (sabotage.includes('external-trade')) {
      const symbol = 'ETHUSDT';
      narrate(
        `SABOTAGE external-trade: a manual trade of +0.1 ${symbol} on the venue, no fill reported`,
      );
      load.cluster.venue.control.externalTrade(symbol, '0.1');
    }
    step = 'steady state';
    const left = startedMs + options.durationSec * 1000 - Date.now();
    if (left > 0) {
      narrate(`steady state for ${secs(left)}`);
      await sleep(left, signal);
    }
    step = 'audit';
    narrate('stopping the load; waiting for the ledgers to settle; auditing');
    audit = await load.finish(SETTLE_END_MS);
  } catch (e) {
    error = errorMessage(e);
  } finally {
    status.stop();
    if (tty) options.out.write('\r\x1b[K');
  }
  const fencedWrites = await load.fencedWrites().catch(() => ({}));
  const summary = judgeHaDemo({
    boundMs: BOUND_MS,
    environment,
    faults,
    baseline,
    audit,
    load: {
      seconds: (Date.now() - startedMs) / 1000,
      plansPublished: load.pipeline.book.find(() => true).length,
      gate: load.gateCounts(),
      fencedWrites,
    },
    sabotage,
    error,
  });
  await load.stop();
  if (options.logDir !== undefined) dumpLogs(load, options.logDir);
  return summary;
}

type Narrate = (text: string) => void;

async function killReconcileLeader(load: HaLoad, narrate: Narrate): Promise<HaFaultReport> {
  const { cluster } = load;
  const before = await load.term('reconcile');
  const killed = before.leader ?? (await cluster.waitForLeader('reconcile'));
  const checks: HaCheck[] = [];
  const figures: HaFaultReport['figures'] = { killed };
  narrate(`FAULT 1/3: SIGKILL the reconcile leader ${killed} (epoch ${before.epoch ?? '?'})`);
  const t0 = Date.now();
  await cluster.kill(killed, 'SIGKILL');
  const next = await load.newTerm('reconcile', {
    not: killed,
    above: before.epoch,
    timeoutMs: BOUND_MS,
  });
  checks.push({
    label: 'a standby took the reconcile lease',
    ok: next !== null,
    detail:
      next === null
        ? `no new leader within ${secs(BOUND_MS)}`
        : `${next.leader} @ epoch ${next.epoch} after ${secs(next.atMs - t0)}`,
  });
  figures.takeoverMs = next === null ? null : next.atMs - t0;
  if (next !== null) {
    narrate(
      `${next.leader} leads reconcile (epoch ${next.epoch}) ${secs(next.atMs - t0)} after the kill`,
    );
    const beat = await firstHeartbeat(load, next.leader as string, t0);
    checks.push({
      label: 'the new leader completed a full cycle (its heartbeat)',
      ok: beat !== null,
      detail:
        beat === null
          ? `no heartbeat from ${next.leader} within ${secs(BOUND_MS)}`
          : `after ${secs(beat - t0)}`,
    });
    figures.firstCycleMs = beat === null ? null : beat - t0;
    if (beat !== null)
      narrate(`${next.leader} wrote its first heartbeat ${secs(beat - t0)} after the kill`);
  }
  const flow = await load.flowAfter(t0, BOUND_MS);
  checks.push(flowCheck(flow, t0));
  figures.flowMs = flow === null ? null : flow.atMs - t0;
  figures.engineDownDenials = engineDownDenials(load, t0);
  narrate(`restarting ${killed}`);
  await cluster.restart(killed);
  const standby = await standbyAgain(load, killed, 'reconcile');
  checks.push({
    label: `${killed} restarted as a standby`,
    ok: standby.ok,
    detail: standby.detail,
  });
  narrate(`${killed} is back: ${standby.detail}`);
  return {
    name: 'kill-reconcile-leader',
    title: 'SIGKILL of the reconcile leader',
    injectedAtMs: t0,
    checks,
    figures,
  };
}

async function pausePollerLeader(
  load: HaLoad,
  narrate: Narrate,
  signal: AbortSignal | undefined,
): Promise<HaFaultReport> {
  const { cluster } = load;
  const role = 'brain-poller' as const;
  const before = await load.term(role);
  const paused = before.leader ?? (await cluster.waitForLeader(role));
  const fencedBefore =
    (await cluster.metric(paused, 'posguard_fenced_writes_total', { role }).catch(() => null)) ?? 0;
  const checks: HaCheck[] = [];
  const figures: HaFaultReport['figures'] = { paused };
  narrate(
    `FAULT 2/3: SIGSTOP the brain-poller leader ${paused} (epoch ${before.epoch ?? '?'}) for ${secs(PAUSE_MS)}, lease ${secs(LEASE_MS)}`,
  );
  const t0 = Date.now();
  cluster.pause(paused);
  const next = await load.newTerm(role, { not: paused, above: before.epoch, timeoutMs: PAUSE_MS });
  checks.push({
    label: 'a standby took the brain-poller lease while the leader was stopped',
    ok: next !== null,
    detail:
      next === null
        ? `no new leader within ${secs(PAUSE_MS)}`
        : `${next.leader} @ epoch ${next.epoch} after ${secs(next.atMs - t0)}`,
  });
  figures.takeoverMs = next === null ? null : next.atMs - t0;
  if (next !== null)
    narrate(
      `${next.leader} leads brain-poller (epoch ${next.epoch}) ${secs(next.atMs - t0)} after the SIGSTOP`,
    );
  await sleep(Math.max(0, t0 + PAUSE_MS - Date.now()), signal);
  narrate(`SIGCONT ${paused}: it wakes up believing it leads`);
  const t1 = Date.now();
  cluster.resume(paused);
  const back = await standbyAgain(load, paused, role, t1);
  const fencedAfter =
    (await cluster.metric(paused, 'posguard_fenced_writes_total', { role }).catch(() => null)) ??
    fencedBefore;
  const how = stepDownLine(load, paused, t1);
  checks.push({
    label: `${paused} came back as a standby`,
    ok: back.ok,
    detail: `${back.detail}; ${how}`,
  });
  figures.fencedWrites = fencedAfter - fencedBefore;
  figures.standbyAgainMs = back.atMs === null ? null : back.atMs - t1;
  narrate(
    `${paused}: ${back.detail}; ${how}; writes refused by the fence: ${fencedAfter - fencedBefore}`,
  );
  const flow = await load.flowAfter(t1, BOUND_MS);
  checks.push(flowCheck(flow, t1, 'after the SIGCONT'));
  figures.flowAfterResumeMs = flow === null ? null : flow.atMs - t1;
  return {
    name: 'pause-poller-leader',
    title: `SIGSTOP of the brain-poller leader for ${secs(PAUSE_MS)}, then SIGCONT`,
    injectedAtMs: t0,
    checks,
    figures,
  };
}

async function failover(load: HaLoad, narrate: Narrate): Promise<HaFaultReport> {
  const roles = ['reconcile', 'brain-poller'] as const;
  const before = Object.fromEntries(
    await Promise.all(roles.map(async (r) => [r, await load.term(r)] as const)),
  );
  const oldPort = await load.masterPort();
  const checks: HaCheck[] = [];
  const figures: HaFaultReport['figures'] = { oldMaster: oldPort };
  narrate(`FAULT 3/3: SENTINEL FAILOVER (master :${oldPort})`);
  const t0 = Date.now();
  // Watched from the moment FAILOVER is sent: the other data node is the new master.
  const onNew = (port: number | null): boolean => port !== null && port !== oldPort;
  const terms = Promise.all(
    roles.map((role) =>
      load.newTerm(role, { above: before[role]?.epoch ?? null, timeoutMs: BOUND_MS }),
    ),
  );
  const flowing = load.flowAfter(t0, BOUND_MS, onNew);
  const next = await load.failover();
  const switchedMs = Date.now() - t0;
  figures.failoverRequests = next.attempts;
  for (const problem of next.problems)
    narrate(`the failover did not complete at first: ${problem}`);
  figures.newMaster = next.port;
  figures.switchMs = switchedMs;
  checks.push({
    label: 'the sentinels promoted the replica',
    ok: next.port !== oldPort,
    detail: `master :${next.port} after ${secs(switchedMs)} (the old master replicates it)`,
  });
  narrate(`the sentinels switched the master to :${next.port} in ${secs(switchedMs)}`);
  const reelected = await terms;
  for (const [i, role] of roles.entries()) {
    const term = reelected[i] ?? null;
    checks.push({
      label: `${role}: a new term on the new master`,
      ok: term !== null,
      detail:
        term === null
          ? `no lease above epoch ${before[role]?.epoch ?? '?'} within ${secs(BOUND_MS)}`
          : `${term.leader} @ epoch ${term.epoch} after ${secs(term.atMs - t0)}`,
    });
    figures[`${role}ReelectedMs`] = term === null ? null : term.atMs - t0;
    if (term !== null)
      narrate(
        `${role}: ${term.leader} leads again (epoch ${term.epoch}) ${secs(term.atMs - t0)} after the failover began`,
      );
  }
  const dropped = load.cluster.members.filter((m) =>
    m.process.lines.some(
      (l) => l.atMs >= t0 && /Redis master changed: dropping every lease/.test(l.text),
    ),
  );
  figures.droppedLeases = dropped.map((m) => m.id).join(', ') || 'none logged';
  narrate(`leases dropped on the master switch (logged by): ${figures.droppedLeases}`);
  const reconcileLeader = (await load.term('reconcile')).leader;
  if (reconcileLeader !== null) {
    const beat = await firstHeartbeat(load, reconcileLeader, t0);
    figures.firstCycleMs = beat === null ? null : beat - t0;
  }
  const flow = await flowing;
  checks.push(flowCheck(flow, t0, `on the new master :${next.port}`));
  figures.flowMs = flow === null ? null : flow.atMs - t0;
  if (flow !== null)
    narrate(
      `permits flow again on :${next.port} ${secs(flow.atMs - t0)} after the failover began (plan ${flow.planId})`,
    );
  return {
    name: 'redis-failover',
    title: 'SENTINEL FAILOVER of the Redis master',
    injectedAtMs: t0,
    checks,
    figures,
  };
}

function flowCheck(flow: { planId: string; atMs: number } | null, t0: number, where = ''): HaCheck {
  return {
    label: `an ALLOW consumed through the gate for a plan published after the fault${where === '' ? '' : ` (${where})`}`,
    ok: flow !== null,
    detail:
      flow === null
        ? `none within ${secs(BOUND_MS)}`
        : `plan ${flow.planId} after ${secs(flow.atMs - t0)}`,
  };
}

/** When `leader`'s first heartbeat written after `sinceMs` was seen (null: not within the bound). */
async function firstHeartbeat(
  load: HaLoad,
  leader: string,
  sinceMs: number,
): Promise<number | null> {
  const deadline = sinceMs + BOUND_MS;
  while (Date.now() <= deadline) {
    const hb = await load.cluster.heartbeat().catch(() => null);
    if (hb !== null && hb.ts_ms > sinceMs && hb.instance === leader) return hb.ts_ms;
    await sleep(50);
  }
  return null;
}

/** Plans published after `sinceMs` the gate saw denied `reconcile_engine_down`. */
function engineDownDenials(load: HaLoad, sinceMs: number): number {
  return load.pipeline.book.find(
    (p) =>
      p.publishedMs >= sinceMs &&
      p.permit !== null &&
      !p.permit.allow &&
      p.permit.failed.includes('reconcile_engine_down'),
  ).length;
}

/** The instance campaigns for `role` and leads nothing of it: metric 0, presence, lease. */
async function standbyAgain(
  load: HaLoad,
  id: string,
  role: 'reconcile' | 'brain-poller',
  sinceMs = Date.now(),
): Promise<{ ok: boolean; detail: string; atMs: number | null }> {
  const deadline = sinceMs + BOUND_MS;
  let last = 'not checked';
  while (Date.now() <= deadline) {
    try {
      const [leading, presence, term] = await Promise.all([
        load.cluster.metric(id, 'posguard_leader', { role }),
        load.cluster.presence(id),
        load.term(role),
      ]);
      const claims = presence.ok && presence.record.leader_of.some((l) => l.role === role);
      const campaigns = presence.ok && presence.record.roles.includes(role);
      last = `posguard_leader ${leading ?? '?'}, presence ${presence.ok ? (claims ? 'claims the lease' : campaigns ? 'standby' : 'no role') : presence.problem}, lease ${term.leader ?? 'none'}`;
      if (leading === 0 && campaigns && !claims && term.leader !== id) {
        return { ok: true, detail: `standby (${last})`, atMs: Date.now() };
      }
    } catch (e) {
      last = errorMessage(e);
    }
    await sleep(100);
  }
  return { ok: false, detail: `not a standby within ${secs(BOUND_MS)}: ${last}`, atMs: null };
}

/** How the woken instance left its term, from its log. */
function stepDownLine(load: HaLoad, id: string, sinceMs: number): string {
  const lines = load.cluster
    .member(id)
    .process.lines.filter(
      (l) => l.atMs >= sinceMs && /no longer leading|refused by the fence/.test(l.text),
    );
  if (lines.length === 0) return 'no step-down line logged';
  return lines
    .map((l) => {
      const msg = typeof l.json?.msg === 'string' ? l.json.msg : l.text;
      const reason = typeof l.json?.reason === 'string' ? ` (${l.json.reason})` : '';
      return `logged "${msg.slice(0, 60)}${msg.length > 60 ? '…' : ''}"${reason}`;
    })
    .join('; ');
}

function startStatus(
  load: HaLoad,
  options: HaDemoOptions,
  step: () => string,
  startedMs: number,
  remember: (line: string) => void,
): { stop(): void } {
  if (options.display === 'none') return { stop: () => undefined };
  let busy = false;
  const tick = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const [rec, pol, master, positions] = await Promise.all([
        load.term('reconcile').catch(() => null),
        load.term('brain-poller').catch(() => null),
        load.masterPort().catch(() => null),
        load.positions().catch(() => []),
      ]);
      const lead = (t: { leader: string | null; epoch: number | null } | null): string =>
        t === null ? '?' : `${t.leader ?? 'none'}@${t.epoch ?? '-'}`;
      const gate = load.gateCounts();
      const refused = Object.entries(gate)
        .filter(([k]) => k !== 'ok')
        .reduce((n, [, v]) => n + v, 0);
      const line =
        `  t+${((Date.now() - startedMs) / 1000).toFixed(0)}s ${step()} | master :${master ?? '?'} | ` +
        `reconcile ${lead(rec)} | brain-poller ${lead(pol)} | plans ${load.pipeline.book.find(() => true).length}, ` +
        `consumed ${gate.ok ?? 0}, refused ${refused} | ` +
        positions.map((p) => `${p.symbol} venue ${p.venue} ledger ${p.ledger}`).join(' · ');
      if (options.display === 'tty') {
        remember(line);
        options.out.write(`\r\x1b[K${line}`);
      } else options.out.write(`${line}\n`);
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick().catch(() => undefined), 1000);
  return { stop: () => clearInterval(timer) };
}

function dumpLogs(load: HaLoad, dir: string): void {
  for (const m of load.cluster.members) {
    const text = m.incarnations
      .map((p, i) => `# ${m.id}, incarnation ${i + 1}\n${p.output()}`)
      .join('\n');
    try {
      writeFileSync(join(dir, `${m.id}.log`), text);
    } catch {
      // a log that cannot be written is not a reason to lose the verdict
    }
  }
}
