/**
 * The benchmark run: its own Redis, the floors, each scenario in turn, then the results.
 * A scenario that fails is recorded with its error (and the run reports itself incomplete)
 * instead of silently disappearing from the table.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { startEmbeddedRedis } from '../src/dev/redis-server.js';
import { errorMessage } from '../src/errors.js';
import { harnessClient } from './environment.js';
import { notificationFloor, pingRtt } from './floors.js';
import { enableKeyspaceEvents, openKeyspaceProbe } from './keyspace-probe.js';
import { describeMachine, loadAverage } from './machine.js';
import { MODES, type Mode } from './modes.js';
import { type BenchResults, SCENARIO_NAMES, type ScenarioName, writeOutputs } from './report.js';
import type { Floors, ScenarioContext } from './scenarios/context.js';
import { SCENARIOS } from './scenarios/index.js';
import { roundSummary } from './stats.js';

export interface BenchOptions {
  mode: Mode;
  only: ScenarioName[] | null;
  outDir: string | null;
  docs: boolean;
}

export function parseArgs(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = { mode: 'full', only: null, outDir: null, docs: true };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--quick') options.mode = 'quick';
    else if (arg === '--tiny') options.mode = 'tiny';
    else if (arg === '--no-docs') options.docs = false;
    else if (arg === '--only' || arg === '--out-dir') {
      const value = argv[i + 1];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      i += 1;
      if (arg === '--out-dir') options.outDir = value;
      else {
        const names = value.split(',').map((s) => s.trim());
        const bad = names.filter((n) => !(SCENARIO_NAMES as readonly string[]).includes(n));
        if (bad.length > 0)
          throw new Error(
            `unknown scenario ${bad.join(', ')}; known: ${SCENARIO_NAMES.join(', ')}`,
          );
        options.only = names as ScenarioName[];
      }
    } else
      throw new Error(
        `unknown option ${arg} (known: --quick, --tiny, --only a,b, --out-dir DIR, --no-docs)`,
      );
  }
  return options;
}

export interface BenchOutcome {
  complete: boolean;
  results: BenchResults;
  summaryLine: string;
}

async function measureFloors(
  ctx: Omit<ScenarioContext, 'floors'>,
  notifyPrefix: string,
): Promise<Floors> {
  const pinger = harnessClient(ctx.redisUrl, 'bench-floor-ping');
  const subscriber = harnessClient(ctx.redisUrl, 'bench-floor-probe');
  try {
    const pingRttMs = await pingRtt(pinger, ctx.params.floor.pings);
    const probe = await openKeyspaceProbe(subscriber, 0, `${notifyPrefix}*`);
    const notificationMs = await notificationFloor(
      pinger,
      probe,
      notifyPrefix,
      ctx.params.floor.notifications,
    );
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

export async function runBench(options: BenchOptions): Promise<BenchOutcome> {
  const started = performance.now();
  const params = MODES[options.mode];
  const progress = (message: string): void => {
    process.stderr.write(
      `[bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${message}\n`,
    );
  };
  const server = await startEmbeddedRedis();
  const admin = harnessClient(server.url, 'bench-admin');
  try {
    await enableKeyspaceEvents(admin);
    const machine = await describeMachine(admin);
    const prefix = `bench${randomBytes(3).toString('hex')}`;
    const base = { redisUrl: server.url, admin, params, prefix, progress };
    progress(`mode ${options.mode}; measuring floors`);
    const floors = await measureFloors(base, `${prefix}:floor:`);
    const ctx: ScenarioContext = { ...base, floors };
    const scenarios: BenchResults['scenarios'] = {};
    let complete = true;
    for (const name of options.only ?? SCENARIO_NAMES) {
      progress(`scenario ${name}`);
      const t0 = performance.now();
      try {
        scenarios[name] = { ok: true, seconds: 0, result: await SCENARIOS[name](ctx) };
      } catch (error) {
        complete = false;
        progress(`scenario ${name} FAILED: ${errorMessage(error)}`);
        scenarios[name] = { ok: false, seconds: 0, error: errorMessage(error) };
      }
      scenarios[name].seconds = Math.round((performance.now() - t0) / 100) / 10;
    }
    const results: BenchResults = {
      schema: 1,
      mode: options.mode,
      command: options.mode === 'full' ? 'npm run bench' : `npm run bench -- --${options.mode}`,
      machine: { ...machine, loadAvgAtEnd: loadAverage() },
      floors,
      scenarios,
      totalSeconds: Math.round((performance.now() - started) / 100) / 10,
    };
    const paths = writeOutputs(results, { outDir: options.outDir, docs: options.docs });
    progress(`wrote ${paths.join(', ')}`);
    return {
      complete,
      results,
      summaryLine: `bench ${options.mode}: ${complete ? 'complete' : 'INCOMPLETE (see errors in results)'} in ${results.totalSeconds} s → ${paths.join(', ')}`,
    };
  } finally {
    admin.disconnect();
    await server.stop();
  }
}
