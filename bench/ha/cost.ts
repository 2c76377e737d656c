/**
 * Figure: the steady-state cost of HA (issue 12) — plan → permit latency with two brains
 * against one, in one run, on one machine, at the same plan rates, and the Redis round
 * trip measured in the same run (the floor the latencies are compared to).
 *
 * Three HA clusters of the built CLI (src/dev/ha-cluster.ts: every instance campaigns for
 * its leases and writes its presence record) run side by side, each against its own
 * redis-server (so each one's Redis traffic can be counted apart), with the service
 * defaults for lease (3000 ms), engine cadence (1.0 s) and snapshot poll (5 s), 20
 * symbols each holding a position:
 *   A  1 brain  + 1 engine
 *   B  2 brains + 1 engine   (the brains share the plan stream's consumer group)
 *   C  2 brains + 2 engines  (the HA deployment: a standby engine too)
 * The machine's load from other work drifts over minutes, so the set-ups are measured in
 * alternating windows: per rate (full: 100 and 500 plans/s; quick: 500/s), a warm-up of
 * each, then `rounds` rounds (full 4, quick 2) of one window (5 s; quick 3 s) per set-up,
 * the order rotating from round to round. Only one set-up gets plans at a time. Each plan
 * is timed from just before its XADD to the moment a keyspace probe saw its permit written
 * (bench/scenarios/plan-driver.ts, as `npm run bench`); a set-up's figure pools its windows.
 *
 * Floors, same run: sequential PINGs on the set-up's producer connection right before each
 * window (pooled per set-up and rate: the ratios use these), and the probe's own
 * write → notification latency (bench/floors.ts) per server at the start.
 * Also: how the brains split the plans (their `p33_permit_total`), and each server's
 * commands/s and CPU while idle (leases, presence records, polls, heartbeats, blocking
 * reads) and under load.
 */
import type { Redis } from 'ioredis';
import { HaCluster } from '../../src/dev/ha-cluster.js';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/dev/redis-server.js';
import { syntheticSymbols } from '../../src/dev/venue/venue.js';
import { harnessClient } from '../environment.js';
import { notificationFloor } from '../floors.js';
import { type KeyspaceProbe, enableKeyspaceEvents, openKeyspaceProbe } from '../keyspace-probe.js';
import { describeMachine, redisCpuSec } from '../machine.js';
import { type PlanTarget, drivePacedSamples, permitOutcomes } from '../scenarios/plan-driver.js';
import { type Summary, ratio, roundSummary, summarize } from '../stats.js';
import type { HaBenchOptions } from './run.js';
import { counterSum, loadNow, sleep } from './common.js';

const SYMBOLS = 20;
const IDLE_SEC = 5;
const WINDOW_PINGS = 300;

interface SetupSpec {
  key: string;
  label: string;
  brains: number;
  engines: number;
}

const SETUPS: SetupSpec[] = [
  { key: 'A', label: '1 brain + 1 engine', brains: 1, engines: 1 },
  { key: 'B', label: '2 brains + 1 engine', brains: 2, engines: 1 },
  { key: 'C', label: '2 brains + 2 engines', brains: 2, engines: 2 },
];

interface RedisLoad {
  commandsPerSec: number;
  /** Calls/s per command (those ≥ 0.5/s), the busiest first; script-run commands included. */
  byCommand: Record<string, number>;
  /** Redis CPU (user + sys) per wall second. */
  cpuPerSec: number;
}

interface Running {
  spec: SetupSpec;
  server: EmbeddedRedis;
  admin: Redis;
  producer: Redis;
  probe: KeyspaceProbe;
  cluster: HaCluster;
  symbols: string[];
}

interface RateResult {
  ratePerSec: number;
  windows: number;
  latencyMs: Summary | null;
  /** Each window's p50 and p99 (their spread is the run's noise). */
  windowP50Ms: number[];
  windowP99Ms: number[];
  sent: number;
  missing: number;
  producerLagP99Ms: number[];
  outcomes: Record<string, number>;
  permitsByBrain: Record<string, number>;
  pingRttMs: Summary | null;
  ratioP50ToPing: number | null;
  ratioP99ToPing: number | null;
  redis: RedisLoad;
}

async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const calls = new Map<string, number>();
  for (const line of info.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m) calls.set(m[1] as string, Number(m[2]));
  }
  return calls;
}

interface LoadMark {
  calls: Map<string, number>;
  cpu: number;
  atMs: number;
}

async function mark(redis: Redis): Promise<LoadMark> {
  const [calls, cpu] = await Promise.all([commandStats(redis), redisCpuSec(redis)]);
  return { calls, cpu, atMs: Date.now() };
}

/** Commands/s between marks, summed over intervals (the windows of one set-up). */
function loadOf(intervals: readonly [LoadMark, LoadMark][]): RedisLoad {
  let seconds = 0;
  let cpu = 0;
  const calls = new Map<string, number>();
  for (const [a, b] of intervals) {
    seconds += (b.atMs - a.atMs) / 1000;
    cpu += b.cpu - a.cpu;
    for (const [cmd, n] of b.calls) {
      if (cmd === 'info') continue;
      calls.set(cmd, (calls.get(cmd) ?? 0) + n - (a.calls.get(cmd) ?? 0));
    }
  }
  const rows = [...calls].map(([c, n]) => [c, n / seconds] as const).sort((x, y) => y[1] - x[1]);
  const byCommand: Record<string, number> = {};
  for (const [cmd, perSec] of rows)
    if (perSec >= 0.5) byCommand[cmd] = Math.round(perSec * 10) / 10;
  return {
    commandsPerSec: Math.round(rows.reduce((s, [, v]) => s + v, 0) * 10) / 10,
    byCommand,
    cpuPerSec: Math.round((cpu / seconds) * 1000) / 1000,
  };
}

async function pingSamples(redis: Redis, count: number): Promise<number[]> {
  for (let i = 0; i < 50; i += 1) await redis.ping();
  const samples: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const t0 = performance.now();
    await redis.ping();
    samples.push(performance.now() - t0);
  }
  return samples;
}

async function permitsByBrain(c: HaCluster): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of c.members.filter((x) => x.service === 'brain'))
    out[m.id] = counterSum(await c.scrape(m.id), 'p33_permit_total');
  return out;
}

async function startSetup(spec: SetupSpec, symbols: string[]): Promise<Running> {
  const server = await startEmbeddedRedis();
  const admin = harnessClient(server.url, `bench-ha-cost-${spec.key}-admin`);
  await enableKeyspaceEvents(admin);
  const positions = Object.fromEntries(
    symbols.map((s, i) => [s, ((i % 4 === 3 ? -1 : 1) * (0.05 + (i % 7) / 100)).toFixed(3)]),
  );
  const cluster = await HaCluster.start({
    brains: spec.brains,
    engines: spec.engines,
    redis: { url: server.url },
    positions,
    // Service defaults: lease 3000 ms, cadence 1.0 s, poll 5 s, staleness 10 s.
    leaseMs: 3000,
    cadenceSec: 1.0,
    pollSec: 5,
    env: { P33_STALE_THRESHOLD_SEC: '10', P34_EXCHANGE_FRESHNESS_SEC: '10' },
    // No /proc scan every 100 ms in this process: it would stall the probe's event loop.
    ownerScan: false,
  });
  const producer = harnessClient(server.url, `bench-ha-cost-${spec.key}-producer`);
  const probe = await openKeyspaceProbe(
    harnessClient(server.url, `bench-ha-cost-${spec.key}-probe`),
    0,
    `${cluster.keyPrefix}:permit:p33:*`,
  );
  return { spec, server, admin, producer, probe, cluster, symbols };
}

async function stopSetup(r: Running): Promise<void> {
  await r.probe.close().catch(() => undefined);
  r.producer.disconnect();
  await r.cluster.stop().catch(() => undefined);
  r.admin.disconnect();
  await r.server.stop();
}

async function consumersOf(r: Running): Promise<string[]> {
  const stream = r.cluster.keys.applyPlanStream;
  const groups = (await r.admin.call('XINFO', 'GROUPS', stream)) as unknown[][];
  const out: string[] = [];
  for (const g of groups) {
    const group = String(g[g.indexOf('name') + 1]);
    const rows = (await r.admin.call('XINFO', 'CONSUMERS', stream, group)) as unknown[][];
    for (const row of rows) out.push(`${group}/${String(row[row.indexOf('name') + 1])}`);
  }
  return out;
}

interface Acc {
  latencies: number[];
  pings: number[];
  p50: number[];
  p99: number[];
  lag: number[];
  sent: number;
  missing: number;
  outcomes: Record<string, number>;
  intervals: [LoadMark, LoadMark][];
  split: Record<string, number>;
}

function newAcc(): Acc {
  return {
    latencies: [],
    pings: [],
    p50: [],
    p99: [],
    lag: [],
    sent: 0,
    missing: 0,
    outcomes: {},
    intervals: [],
    split: {},
  };
}

function planTarget(r: Running): PlanTarget {
  return { producer: r.producer, keys: r.cluster.keys, probe: r.probe, symbols: r.symbols };
}

async function measureRate(
  running: readonly Running[],
  rate: number,
  rounds: number,
  warmupSec: number,
  windowSec: number,
  progress: (m: string) => void,
): Promise<Map<string, RateResult>> {
  for (const r of running) {
    await drivePacedSamples(planTarget(r), `${r.spec.key}-warm${rate}`, rate, warmupSec);
  }
  const acc = new Map<string, Acc>(running.map((r) => [r.spec.key, newAcc()]));
  for (let round = 0; round < rounds; round += 1) {
    const order = running.map((_, i) => running[(i + round) % running.length] as Running);
    progress(
      `${rate} plans/s, round ${round + 1}/${rounds}: ${order.map((r) => r.spec.key).join(' ')}`,
    );
    for (const r of order) {
      const a = acc.get(r.spec.key) ?? newAcc();
      a.pings.push(...(await pingSamples(r.producer, WINDOW_PINGS)));
      const before = await permitsByBrain(r.cluster);
      const m0 = await mark(r.admin);
      const tag = `${r.spec.key}-r${rate}-${round}`;
      const res = await drivePacedSamples(planTarget(r), tag, rate, windowSec);
      const m1 = await mark(r.admin);
      a.intervals.push([m0, m1]);
      const after = await permitsByBrain(r.cluster);
      for (const [id, n] of Object.entries(after))
        a.split[id] = (a.split[id] ?? 0) + n - (before[id] ?? 0);
      const window = summarize(res.samplesMs);
      if (window !== null) {
        a.p50.push(Math.round(window.p50 * 1000) / 1000);
        a.p99.push(Math.round(window.p99 * 1000) / 1000);
      }
      const lag = summarize(res.lagMs);
      if (lag !== null) a.lag.push(Math.round(lag.p99 * 1000) / 1000);
      a.sent += res.planIds.length;
      a.missing += res.missing;
      // Read now: a permit lives P33_PERMIT_TTL (60 s), less than a rate's rounds take.
      for (const [k, n] of Object.entries(
        await permitOutcomes(r.admin, r.cluster.keys, res.planIds),
      ))
        a.outcomes[k] = (a.outcomes[k] ?? 0) + n;
      a.latencies.push(...res.samplesMs);
      await sleep(300);
    }
  }
  const out = new Map<string, RateResult>();
  for (const r of running) {
    const a = acc.get(r.spec.key) ?? newAcc();
    const latency = roundSummary(summarize(a.latencies), 3);
    const ping = roundSummary(summarize(a.pings), 4);
    out.set(r.spec.key, {
      ratePerSec: rate,
      windows: rounds,
      latencyMs: latency,
      windowP50Ms: a.p50,
      windowP99Ms: a.p99,
      sent: a.sent,
      missing: a.missing,
      producerLagP99Ms: a.lag,
      outcomes: a.outcomes,
      permitsByBrain: a.split,
      pingRttMs: ping,
      ratioP50ToPing: ratio(latency?.p50, ping?.p50),
      ratioP99ToPing: ratio(latency?.p99, ping?.p99),
      redis: loadOf(a.intervals),
    });
  }
  return out;
}

export async function run(options: HaBenchOptions): Promise<Record<string, unknown>> {
  const rates = options.quick ? [500] : [100, 500];
  const rounds = options.quick ? 2 : 4;
  const warmupSec = options.quick ? 1 : 2;
  const windowSec = options.quick ? 3 : 5;
  const symbols = syntheticSymbols(SYMBOLS);
  const loadAtStart = loadNow();
  const running: Running[] = [];
  try {
    for (const spec of SETUPS) {
      options.progress(`start ${spec.key}: ${spec.label}`);
      running.push(await startSetup(spec, symbols));
    }
    const machine = await describeMachine((running[0] as Running).admin);
    const idle = new Map<string, RedisLoad>();
    const notification = new Map<string, Summary | null>();
    for (const r of running) {
      options.progress(`${r.spec.key}: idle ${IDLE_SEC} s, notification floor`);
      const m0 = await mark(r.admin);
      await sleep(IDLE_SEC * 1000);
      idle.set(r.spec.key, loadOf([[m0, await mark(r.admin)]]));
      const sub = harnessClient(r.server.url, `bench-ha-cost-${r.spec.key}-floor`);
      const probe = await openKeyspaceProbe(sub, 0, 'ha-cost-floor:*');
      notification.set(
        r.spec.key,
        roundSummary(await notificationFloor(r.producer, probe, 'ha-cost-floor:', 300), 4),
      );
      await probe.close();
    }
    const byRate: Map<string, RateResult>[] = [];
    for (const rate of rates) {
      byRate.push(
        await measureRate(running, rate, rounds, warmupSec, windowSec, (m) => options.progress(m)),
      );
    }
    const setups = [];
    for (const r of running) {
      setups.push({
        key: r.spec.key,
        label: r.spec.label,
        brains: r.spec.brains,
        engines: r.spec.engines,
        consumers: await consumersOf(r),
        idle: idle.get(r.spec.key),
        notificationFloorMs: notification.get(r.spec.key),
        runs: byRate.map((m) => m.get(r.spec.key)),
      });
    }
    const compare = byRate.flatMap((m) => {
      const a = m.get('A');
      return ['B', 'C'].map((key) => {
        const x = m.get(key);
        return {
          setup: key,
          ratePerSec: x?.ratePerSec,
          p50VsA: ratio(x?.latencyMs?.p50, a?.latencyMs?.p50),
          p99VsA: ratio(x?.latencyMs?.p99, a?.latencyMs?.p99),
        };
      });
    });
    return {
      setup: {
        symbols: SYMBOLS,
        rates,
        rounds,
        warmupSec,
        windowSec,
        leaseMs: 3000,
        cadenceSec: 1.0,
        pollSec: 5,
        idleSec: IDLE_SEC,
      },
      setups,
      compare,
      machine: { ...machine, loadAvgAtStart: loadAtStart, loadAvgAtEnd: loadNow() },
    };
  } finally {
    for (const r of running) await stopSetup(r);
  }
}
