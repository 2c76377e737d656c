/**
 * Figure: the steady-state cost of HA (issue 12) — plan → permit latency with two brains
 * against one, in one run, on one machine, at the same plan rates, and the Redis round
 * trip measured in the same run (the floor the latencies are compared to).
 *
 * Each set-up is a fresh HA cluster of the built CLI (src/dev/ha-cluster.ts: every
 * instance campaigns for its leases, writes its presence record) against one private
 * redis-server, with the service defaults for lease (3000 ms), engine cadence (1.0 s) and
 * snapshot poll (5 s), 20 symbols each holding a position:
 *   A  1 brain  + 1 engine
 *   B  2 brains + 1 engine   (the brains share the plan stream's consumer group)
 *   C  2 brains + 2 engines  (the HA deployment: a standby engine too)
 *   A2 1 brain  + 1 engine again, last (full run only): how far the machine drifted.
 * Per set-up and rate (full: 100 and 500 plans/s, 2 s warm-up + 10 s; quick: 500/s, 1 s
 * + 3 s): each plan timed from just before its XADD to the moment a keyspace probe saw
 * its permit written (bench/scenarios/plan-driver.ts, as `npm run bench`). Also: how the
 * brains split the plans (their `p33_permit_total`), Redis commands/s and CPU while idle
 * (the leases, presence records, polls, heartbeats, blocking reads) and under load.
 *
 * Floors: sequential PING round trips on the producer's connection right before each
 * measured window (the ratios use these: others' work on the machine moves them), and
 * before and after all set-ups the PINGs and the probe's own write → notification latency
 * (bench/floors.ts).
 */
import type { Redis } from 'ioredis';
import { HaCluster } from '../../src/dev/ha-cluster.js';
import { syntheticSymbols } from '../../src/dev/venue/venue.js';
import { harnessClient } from '../environment.js';
import { notificationFloor, pingRtt } from '../floors.js';
import { enableKeyspaceEvents, openKeyspaceProbe } from '../keyspace-probe.js';
import { redisCpuSec } from '../machine.js';
import { type DriveResult, drivePaced, permitOutcomes } from '../scenarios/plan-driver.js';
import { type Summary, ratio, roundSummary } from '../stats.js';
import type { HaBenchOptions } from './run.js';
import { type BenchRedis, counterSum, loadNow, sleep, startBenchRedis } from './common.js';

const SYMBOLS = 20;
const IDLE_SEC = 5;

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
  { key: 'A2', label: '1 brain + 1 engine (again, last)', brains: 1, engines: 1 },
];

interface RedisLoad {
  commandsPerSec: number;
  /** Calls/s per command, the busiest first (those ≥ 0.5/s). */
  byCommand: Record<string, number>;
  /** Redis CPU (user + sys) per wall second. */
  cpuPerSec: number;
}

interface RateRun {
  ratePerSec: number;
  latencyMs: Summary | null;
  sent: number;
  missing: number;
  producerLagMs: Summary | null;
  outcomes: Record<string, number>;
  /** Permits issued per brain during the measured window. */
  permitsByBrain: Record<string, number>;
  redis: RedisLoad;
  /** Sequential PINGs on the producer's connection just before the measured window. */
  pingRttMs: Summary;
  /** p50 / ping p50 and p99 / ping p99 (the floor just before). */
  ratioP50ToPing: number | null;
  ratioP99ToPing: number | null;
}

interface SetupResult {
  key: string;
  label: string;
  brains: number;
  engines: number;
  idle: RedisLoad;
  consumers: string[];
  runs: RateRun[];
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

async function measureLoad<T>(
  redis: Redis,
  body: () => Promise<T>,
): Promise<{ value: T; load: RedisLoad }> {
  const [calls0, cpu0] = await Promise.all([commandStats(redis), redisCpuSec(redis)]);
  const t0 = Date.now();
  const value = await body();
  const seconds = (Date.now() - t0) / 1000;
  const [calls1, cpu1] = await Promise.all([commandStats(redis), redisCpuSec(redis)]);
  const byCommand: Record<string, number> = {};
  let total = 0;
  const rows = [...calls1]
    .map(([cmd, n]) => [cmd, (n - (calls0.get(cmd) ?? 0)) / seconds] as const)
    .filter(([cmd]) => cmd !== 'info')
    .sort((a, b) => b[1] - a[1]);
  for (const [cmd, perSec] of rows) {
    total += perSec;
    if (perSec >= 0.5) byCommand[cmd] = Math.round(perSec * 10) / 10;
  }
  return {
    value,
    load: {
      commandsPerSec: Math.round(total * 10) / 10,
      byCommand,
      cpuPerSec: Math.round(((cpu1 - cpu0) / seconds) * 1000) / 1000,
    },
  };
}

async function floors(redis: BenchRedis, pings: number, notifications: number) {
  const pinger = harnessClient(redis.server.url, 'bench-ha-cost-ping');
  const subscriber = harnessClient(redis.server.url, 'bench-ha-cost-floor-probe');
  try {
    const pingRttMs = await pingRtt(pinger, pings);
    const probe = await openKeyspaceProbe(subscriber, 0, 'ha-cost-floor:*');
    const notificationMs = await notificationFloor(pinger, probe, 'ha-cost-floor:', notifications);
    await probe.close();
    return {
      pingRttMs: roundSummary(pingRttMs, 4)!,
      notificationMs: roundSummary(notificationMs, 4)!,
    };
  } finally {
    pinger.disconnect();
    subscriber.disconnect();
  }
}

async function permitsByBrain(c: HaCluster): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of c.members.filter((x) => x.service === 'brain'))
    out[m.id] = counterSum(await c.scrape(m.id), 'p33_permit_total');
  return out;
}

function strip(r: DriveResult): Omit<DriveResult, 'planIds'> {
  const { planIds: _ids, ...rest } = r;
  return rest;
}

async function runSetup(
  redis: BenchRedis,
  spec: SetupSpec,
  symbols: string[],
  rates: number[],
  warmupSec: number,
  durationSec: number,
  floorPings: number,
  progress: (m: string) => void,
): Promise<SetupResult> {
  const positions = Object.fromEntries(
    symbols.map((s, i) => [s, ((i % 4 === 3 ? -1 : 1) * (0.05 + (i % 7) / 100)).toFixed(3)]),
  );
  const c = await HaCluster.start({
    brains: spec.brains,
    engines: spec.engines,
    redis: { url: redis.server.url },
    positions,
    // Service defaults: lease 3000 ms, cadence 1.0 s, poll 5 s, staleness 10 s.
    leaseMs: 3000,
    cadenceSec: 1.0,
    pollSec: 5,
    env: { P33_STALE_THRESHOLD_SEC: '10', P34_EXCHANGE_FRESHNESS_SEC: '10' },
  });
  const producer = harnessClient(redis.server.url, 'bench-ha-cost-producer');
  const probe = await openKeyspaceProbe(
    harnessClient(redis.server.url, 'bench-ha-cost-probe'),
    0,
    `${c.keyPrefix}:permit:p33:*`,
  );
  try {
    const target = { producer, keys: c.keys, probe, symbols };
    progress(`${spec.key} ${spec.label}: idle ${IDLE_SEC} s`);
    const idle = (await measureLoad(redis.admin, () => sleep(IDLE_SEC * 1000))).load;
    const runs: RateRun[] = [];
    for (const rate of rates) {
      progress(`${spec.key} ${spec.label}: ${rate} plans/s`);
      await drivePaced(target, `${spec.key}-warm${rate}`, rate, warmupSec);
      // The floor right before the load: the machine's state at this moment (others' work).
      const ping = roundSummary(await pingRtt(producer, floorPings), 4)!;
      const before = await permitsByBrain(c);
      const { value: r, load } = await measureLoad(redis.admin, () =>
        drivePaced(target, `${spec.key}-r${rate}`, rate, durationSec),
      );
      const after = await permitsByBrain(c);
      const split: Record<string, number> = {};
      for (const [id, n] of Object.entries(after)) split[id] = n - (before[id] ?? 0);
      const s = strip(r);
      runs.push({
        ratePerSec: rate,
        latencyMs: s.latencyMs,
        sent: s.sent,
        missing: s.missing,
        producerLagMs: s.producerLagMs,
        outcomes: await permitOutcomes(redis.admin, c.keys, r.planIds),
        permitsByBrain: split,
        redis: load,
        pingRttMs: ping,
        ratioP50ToPing: ratio(s.latencyMs?.p50, ping.p50),
        ratioP99ToPing: ratio(s.latencyMs?.p99, ping.p99),
      });
      await sleep(500);
    }
    const group = (await redis.admin.call(
      'XINFO',
      'CONSUMERS',
      c.keys.applyPlanStream,
      await groupName(redis.admin, c),
    )) as unknown[];
    const consumers = group.map((row) => {
      const fields = row as unknown[];
      return String(fields[fields.indexOf('name') + 1]);
    });
    return {
      key: spec.key,
      label: spec.label,
      brains: spec.brains,
      engines: spec.engines,
      idle,
      consumers,
      runs,
    };
  } finally {
    await probe.close();
    producer.disconnect();
    await c.stop();
  }
}

/** The plan stream's consumer group (the brains create it). */
async function groupName(redis: Redis, c: HaCluster): Promise<string> {
  const groups = (await redis.call('XINFO', 'GROUPS', c.keys.applyPlanStream)) as unknown[][];
  const first = groups[0] ?? [];
  return String(first[first.indexOf('name') + 1]);
}

export async function run(options: HaBenchOptions): Promise<Record<string, unknown>> {
  const rates = options.quick ? [500] : [100, 500];
  const warmupSec = options.quick ? 1 : 2;
  const durationSec = options.quick ? 3 : 10;
  const setups = options.quick ? SETUPS.slice(0, 2) : SETUPS;
  const symbols = syntheticSymbols(SYMBOLS);
  const redis = await startBenchRedis('cost');
  const loadAtStart = loadNow();
  try {
    await enableKeyspaceEvents(redis.admin);
    options.progress('floors');
    const before = await floors(redis, options.quick ? 500 : 2000, options.quick ? 300 : 1000);
    const results: SetupResult[] = [];
    for (const spec of setups) {
      results.push(
        await runSetup(
          redis,
          spec,
          symbols,
          rates,
          warmupSec,
          durationSec,
          options.quick ? 300 : 1000,
          (m) => options.progress(m),
        ),
      );
    }
    const after = await floors(redis, options.quick ? 500 : 2000, options.quick ? 300 : 1000);
    const a = results.find((r) => r.key === 'A');
    const compare = results
      .filter((r) => r.key !== 'A')
      .flatMap((r) =>
        r.runs.map((run) => {
          const base = a?.runs.find((x) => x.ratePerSec === run.ratePerSec);
          return {
            setup: r.key,
            ratePerSec: run.ratePerSec,
            p50VsA: ratio(run.latencyMs?.p50, base?.latencyMs?.p50),
            p99VsA: ratio(run.latencyMs?.p99, base?.latencyMs?.p99),
          };
        }),
      );
    return {
      setup: {
        symbols: SYMBOLS,
        rates,
        warmupSec,
        durationSec,
        leaseMs: 3000,
        cadenceSec: 1.0,
        pollSec: 5,
        idleSec: IDLE_SEC,
      },
      floors: { before, after },
      setups: results,
      compare,
      machine: { ...redis.machine, loadAvgAtStart: loadAtStart, loadAvgAtEnd: loadNow() },
    };
  } finally {
    await redis.stop();
  }
}
