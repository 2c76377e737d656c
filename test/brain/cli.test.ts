/**
 * `posguard brain --env-file PATH` as an operator runs it: the BUILT CLI in a child
 * process (`npm test` builds first), a seed-style env file, SIGTERM → exit 0.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { API_KEY, API_SECRET, type Rig, startRig } from '../exchange/helpers.js';
import { CLI, runCli } from '../cli/run-cli.js';
import { addPlan, waitFor, waitForPermit, writeLedger } from './helpers.js';

function assertBrainBuilt(): void {
  const root = process.cwd();
  for (const source of [
    'src/cli/commands/brain.ts',
    'src/brain/service.ts',
    'src/brain/plan-evaluator.ts',
  ]) {
    const built = join(root, 'dist', source.replace(/\.ts$/, '.js'));
    if (
      !existsSync(CLI) ||
      !existsSync(built) ||
      statSync(built).mtimeMs < statSync(join(root, source)).mtimeMs
    ) {
      throw new Error(`${built} is missing or older than its source: run \`npm run build\` first`);
    }
  }
}

let t: TestRedis;
let rig: Rig;
beforeEach(async () => {
  t = openTestRedis('cl');
  rig = await startRig();
});
afterEach(async () => {
  await rig.venue.close();
  await t.close();
});

describe('posguard brain (built CLI)', () => {
  it('runs from an env file, answers plans, and exits 0 on SIGTERM', async () => {
    assertBrainBuilt();
    rig.venue.control.setPosition('BTCUSDT', '0.038');
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '0.038');
    await t.redis.set(t.keys.reconcileHeartbeat, '{}', 'PX', 600_000);
    const dir = mkdtempSync(join(tmpdir(), 'posguard-brain-'));
    const envFile = join(dir, 'position-state-brain.env');
    writeFileSync(
      envFile,
      [
        '# Service',
        'P33_LOG_LEVEL=INFO',
        `REDIS_URL=${t.url}`,
        `KEY_PREFIX=${t.prefix}`,
        'P33_POLL_SEC=0.5            # decimals are fine (LESSONS #14)',
        'P33_ALLOWLIST=BTCUSDT',
        'P33_METRICS_PORT=0',
        `BINANCE_BASE_URL=${rig.venue.baseUrl}`,
        `BINANCE_API_KEY=${API_KEY}`,
        `BINANCE_API_SECRET="${API_SECRET}"`,
      ].join('\n'),
    );
    let child: ChildProcess | null = null;
    const run = runCli(['brain', '--env-file', envFile], {
      onSpawn: (c) => (child = c),
      timeoutMs: 30_000,
    });
    await waitFor(
      async () =>
        (await t.redis.hget(t.keys.snapshot('BTCUSDT'), 'position_amt')) === '0.038' ? true : null,
      15_000,
      20,
    );
    await waitFor(
      async () => ((await t.redis.exists(t.keys.symbolLotSize('BTCUSDT'))) === 1 ? true : null),
      15_000,
      20,
    );
    await addPlan(t.redis, t.keys, 'cli-1', 'BTCUSDT');
    expect(await waitForPermit(t.redis, t.keys, 'cli-1')).toMatchObject({
      allow: true,
      safe_close_qty: 0.028,
    });
    child!.kill('SIGTERM');
    const result = await run;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('position state brain stopped');
    expect(result.stdout + result.stderr).not.toContain(API_SECRET);
  });
});
