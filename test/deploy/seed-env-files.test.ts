/**
 * The seeds' env files, inline comments included, as systemd passes them (SPEC §8). The
 * files in test/deploy/seed-env/ are the seeds' text verbatim. Each goes to the BUILT CLI
 * three ways — `--env-file F`; as the process environment the way `EnvironmentFile=F`
 * fills it (the comment stays in the value); and both at once, as the shipped units do —
 * and `posguard doctor --json` must report one configuration for all three, with the
 * comments gone. The brain itself then runs from the systemd-style environment.
 *
 * A few variables are set on top, identically for every path (as a unit's `Environment=`
 * lines would): the test's Redis and key prefix and the simulated venue, so nothing here
 * touches a developer's Redis or the real exchange.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/dev/redis-server.js';
import { startVenue, type Venue } from '../../src/dev/venue/venue.js';
import { assertBuilt, runCli } from '../cli/run-cli.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { repoPath } from './tools.js';

const SEEDS = {
  'position-state-brain.env': {
    seed: 'P3_3_POSITION_STATE_BRAIN.md',
    marker: '**File**: `/etc/quantum/position-state-brain.env`',
  },
  'reconcile-engine.env': {
    seed: 'P3_4_RECONCILE_ENGINE.md',
    marker: '**File:** `/etc/quantum/reconcile-engine.env`',
  },
  'reconcile-engine-lower-tolerance.env': {
    seed: 'P3_4_RECONCILE_ENGINE.md',
    marker: '**Lower Tolerance (More Conservative):**',
  },
} as const;
type SeedFile = keyof typeof SEEDS;
const FILES = Object.keys(SEEDS) as SeedFile[];

const text = (file: SeedFile): string =>
  readFileSync(repoPath('test/deploy/seed-env', file), 'utf8');

/**
 * What systemd's EnvironmentFile= puts in the environment for these files (no quotes or
 * backslashes in them — checked): NAME=rest of the line, trimmed; `#` lines skipped.
 */
function systemdEnvironment(content: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of content.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    expect(line).toMatch(/^[A-Z0-9_]+=[^'"\\]*$/);
    const eq = line.indexOf('=');
    env[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  return env;
}

/** The first ```bash block after `marker` in a seed, when the seeds are checked out beside. */
function seedBlock(seed: string, marker: string): string | null {
  const path = repoPath('..', 'shared', 'seeds', seed);
  if (!existsSync(path)) return null;
  const doc = readFileSync(path, 'utf8');
  const start = doc.indexOf('```bash\n', doc.indexOf(marker)) + '```bash\n'.length;
  return doc.slice(start, doc.indexOf('```', start));
}

interface Doctor {
  ok: boolean;
  checks: { name: string; level: string; message: string }[];
  config: Record<string, Record<string, unknown>> | null;
}

let t: TestRedis;
let venue: Venue;

beforeAll(async () => {
  assertBuilt();
  t = openTestRedis('seedenv');
  venue = await startVenue({ apiKey: 'xxx', apiSecret: 'xxx' });
});
afterAll(async () => {
  await t.close();
  await venue.close();
});

/** The `Environment=` lines every path shares. */
function site(): Record<string, string> {
  return {
    REDIS_URL: t.url,
    KEY_PREFIX: t.prefix,
    BINANCE_BASE_URL: venue.baseUrl,
    BINANCE_WS_URL: venue.wsUrl,
  };
}

async function doctor(args: string[], env: Record<string, string>): Promise<Doctor> {
  const run = await runCli(['doctor', '--json', ...args], { env });
  expect(run.stderr).toBe('');
  return JSON.parse(run.stdout) as Doctor;
}

describe('the seeds env files, as systemd passes them', () => {
  it.each(FILES)('%s is the seed text verbatim (when the seeds are beside the repo)', (file) => {
    const { seed, marker } = SEEDS[file];
    const block = seedBlock(seed, marker);
    if (block === null) return;
    const base = file.startsWith('reconcile-engine')
      ? seedBlock(SEEDS['reconcile-engine.env'].seed, SEEDS['reconcile-engine.env'].marker)
      : '';
    expect(text(file)).toBe(file === 'reconcile-engine-lower-tolerance.env' ? base + block : block);
  });

  it.each(FILES)(
    '%s: --env-file, the systemd environment and both give one configuration; doctor agrees',
    async (file) => {
      const path = repoPath('test/deploy/seed-env', file);
      const systemd = systemdEnvironment(text(file));
      // The P3.4 seed keeps its comments on their own lines; its tuning guide does not.
      expect(Object.values(systemd).some((v) => / #/.test(v))).toBe(
        file !== 'reconcile-engine.env',
      );
      const fromFile = await doctor(['--env-file', path], site());
      const fromEnvironment = await doctor([], { ...systemd, ...site() });
      const fromBoth = await doctor(['--env-file', path], { ...systemd, ...site() });
      for (const report of [fromFile, fromEnvironment, fromBoth]) {
        expect(report.checks.filter((c) => c.level === 'FAIL')).toEqual([]);
        expect(report.checks[0]).toMatchObject({ name: 'config', level: 'PASS' });
      }
      expect(fromEnvironment.config).toEqual(fromFile.config);
      expect(fromBoth.config).toEqual(fromFile.config);
      const levels = (r: Doctor): string[] => r.checks.map((c) => `${c.name} ${c.level}`);
      expect(levels(fromEnvironment)).toEqual(levels(fromFile));
      expect(levels(fromBoth)).toEqual(levels(fromFile));

      const config = fromFile.config!;
      if (file === 'position-state-brain.env') {
        expect(config.brain).toMatchObject({
          allowlist: ['BTCUSDT'],
          pollSec: 5,
          staleThresholdSec: 10,
          cooldownSec: 15,
          qtyTolerancePct: 1,
          permitTtlSec: 60,
          metricsPort: 8045,
          logLevel: 'info',
        });
        expect(config.binance).toMatchObject({ apiKey: 'set', apiSecret: 'set', testnet: true });
      } else {
        const lower = file === 'reconcile-engine-lower-tolerance.env';
        expect(config.reconcile).toMatchObject({
          allowlist: ['BTCUSDT'],
          cadenceSec: 1,
          exchangeFreshnessSec: lower ? 5 : 10,
          qtyDriftTolerancePct: lower ? 0.5 : 1,
          evidenceWindowSec: 300,
          holdTtlSec: 300,
          metricsPort: 8046,
        });
      }
    },
  );

  it('the brain runs from the seed file the way systemd starts it (comments in the environment)', async () => {
    const port = await freePort();
    const env: Record<string, string> = {
      ...systemdEnvironment(text('position-state-brain.env')),
      ...site(),
      P33_METRICS_PORT: String(port),
    };
    expect(env.P33_POLL_SEC).toBe('5                    # How often to update snapshots');
    let child: ChildProcess | null = null;
    const run = runCli(['brain'], { env, onSpawn: (c) => (child = c), timeoutMs: 30_000 });
    let ready = 0;
    for (let i = 0; i < 200 && ready !== 200; i += 1) {
      ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
      if (child !== null && (child as ChildProcess).exitCode !== null) break;
    }
    (child as ChildProcess | null)?.kill('SIGTERM');
    const result = await run;
    expect(ready, result.stdout + result.stderr).toBe(200);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"poll_sec":5');
  });
});
