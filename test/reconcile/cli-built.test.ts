/**
 * The BUILT CLI as an operator or systemd runs it: `--once` with `--env-file`, and the
 * service mode stopping cleanly (exit 0) on SIGTERM after its current cycle.
 * `npm test` builds first; when running vitest directly, run `npm run build` before.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import { ledgerFields, snapshotFields, writeSymbol } from './fixtures.js';

const ROOT = process.cwd();
const CLI = join(ROOT, 'dist/src/cli/main.js');

function assertBuilt(): void {
  if (!existsSync(CLI))
    throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it) first`);
  const sources = [
    'src/cli/commands/reconcile.ts',
    ...readdirSync(join(ROOT, 'src/reconcile')).map((f) => `src/reconcile/${f}`),
  ];
  for (const source of sources) {
    const built = join(ROOT, 'dist', source.replace(/\.ts$/, '.js'));
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(ROOT, source)).mtimeMs) {
      throw new Error(`${built} is missing or older than its source: run \`npm run build\` first`);
    }
  }
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(
  args: string[],
  env: Record<string, string>,
  onSpawn?: (child: ReturnType<typeof spawn>) => void,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    onSpawn?.(child);
  });
}

describe('posguard reconcile (built CLI)', () => {
  let t: TestRedis;
  let dir: string;

  beforeAll(() => assertBuilt());
  beforeEach(() => {
    t = openTestRedis('rbin');
    dir = mkdtempSync(join(tmpdir(), 'posguard-reconcile-'));
  });
  afterEach(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t.close();
  });

  it('--once --env-file reads the seed env file format and reconciles', async () => {
    const now = Date.now();
    await writeSymbol(t.redis, t.keys, 'BTCUSDT', {
      snapshot: snapshotFields('0.062', now - 500),
      ledger: ledgerFields('0.062', now - 60_000),
    });
    const envFile = join(dir, 'reconcile-engine.env');
    writeFileSync(
      envFile,
      `# seed format\nP34_ALLOWLIST=BTCUSDT\nP34_LOOP_CADENCE_SEC=1.0\nKEY_PREFIX=${t.prefix}\nREDIS_URL=${t.url}\n`,
    );
    const run = await runCli(['reconcile', '--once', '--env-file', envFile], {});
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^BTCUSDT\s+OK\s+-\s+0\.062\s+0\.062\s+0\s+0\s/m);
    expect(await t.redis.hget(t.keys.reconcileState('BTCUSDT'), 'status')).toBe('OK');
  });

  it('service mode: SIGTERM finishes the current cycle and exits 0', async () => {
    const now = Date.now();
    await writeSymbol(t.redis, t.keys, 'BTCUSDT', {
      snapshot: snapshotFields('0.062', now - 500),
      ledger: ledgerFields('0.062', now - 60_000),
    });
    const env = {
      REDIS_URL: t.url,
      KEY_PREFIX: t.prefix,
      P34_ALLOWLIST: 'BTCUSDT',
      P34_LOOP_CADENCE_SEC: '0.1',
      P34_PROMETHEUS_PORT: '0',
    };
    const run = await runCli(['reconcile'], env, (child) => {
      const poll = setInterval(() => {
        void t.redis.exists(t.keys.reconcileHeartbeat).then((n) => {
          if (n === 1) {
            clearInterval(poll);
            child.kill('SIGTERM');
          }
        });
      }, 50);
      child.on('close', () => clearInterval(poll));
    });
    expect(run.code).toBe(0);
    const messages = run.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toContain('reconcile engine started');
    expect(messages).toContain('stopping after the current cycle');
    expect(messages[messages.length - 1]).toBe('reconcile engine stopped');
  });
});
