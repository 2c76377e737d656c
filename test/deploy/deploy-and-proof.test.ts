/**
 * ops/p33_deploy_and_proof.sh and ops/p34_deploy_and_proof.sh — the seeds' one-command
 * deployments by their names. --dry-run changes nothing and prints each step; a real run
 * with --root installs into a staging tree (ops/deploy.sh), skips systemctl (there is no
 * systemd here, as in deploy.sh's own tests), waits for the running services' /readyz and
 * runs the INSTALLED proof against a deployment in miniature (test/deploy/stack.ts: the
 * units' ExecStart lines with the deploy env files), then prints PASS or FAIL.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../src/dev/redis-server.js';
import { uniquePrefix } from '../helpers/redis.js';
import { startStack, type Stack } from './stack.js';
import { hasTool, repoPath, run, skipNotice, type RunResult } from './tools.js';

const SCRIPTS = ['p33_deploy_and_proof.sh', 'p34_deploy_and_proof.sh'] as const;

const ready = existsSync(repoPath('dist/src/cli/main.js')) && hasTool('redis-cli');
if (!ready)
  skipNotice(
    'dist/ or redis-cli',
    'the deploy-and-proof script tests',
    'npm run build; apt-get install redis-tools',
  );

function script(name: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  return run('bash', [repoPath('ops', name), ...args], { env, timeoutMs: 240_000 });
}

const lastLine = (result: RunResult): string => result.stdout.trim().split('\n').at(-1) ?? '';

describe.skipIf(!ready)('deploy-and-proof scripts', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'pg-dap-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  describe('--dry-run', () => {
    it.each(SCRIPTS)('%s prints install, restart and proof, and changes nothing', async (name) => {
      const target = join(scratch, `dry-${name}`);
      const result = await script(name, ['--dry-run', '--root', target]);
      expect(result.code, result.stderr).toBe(0);
      expect(existsSync(target)).toBe(false);
      const tag = name.replace('.sh', '');
      expect(result.stdout).toContain(`${tag}: 1/3 install/update: ops/deploy.sh --dry-run`);
      expect(result.stdout).toContain('deploy: dry run: nothing will be changed');
      expect(lastLine(result)).toBe(`${tag}: DRY RUN (nothing changed, no proof run)`);
      const restarts = [...result.stdout.matchAll(/^\[dry-run\] systemctl restart (\S+)$/gm)].map(
        (m) => m[1],
      );
      // The seeds' order: P3.3 restarts the brain; P3.4 the engine, then the brain.
      expect(restarts).toEqual(
        name.startsWith('p33')
          ? ['quantum-position-state-brain.service']
          : ['quantum-reconcile-engine.service', 'quantum-position-state-brain.service'],
      );
      const proof = name.startsWith('p33') ? 'p33_proof.sh' : 'p34_proof.sh';
      expect(result.stdout).toMatch(
        new RegExp(
          `^\\[dry-run\\] NODE_BIN=\\S+ bash ${target}/opt/posguard/ops/${proof} --env-file ${target}/etc/quantum/`,
          'm',
        ),
      );
    });

    it('on the real paths: the installed proof with /etc/quantum, --also-restart after ours', async () => {
      const result = await script('p33_deploy_and_proof.sh', [
        '--dry-run',
        '--also-restart',
        'quantum-apply-layer',
        '--symbol',
        'PROOF2USDT',
        '--require-all',
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(
        /\[dry-run\] systemctl restart quantum-position-state-brain\.service\n\[dry-run\] systemctl restart quantum-apply-layer\n/,
      );
      expect(result.stdout).toContain(
        'bash /opt/posguard/ops/p33_proof.sh --env-file /etc/quantum/position-state-brain.env --reconcile-env-file /etc/quantum/reconcile-engine.env --symbol PROOF2USDT --require-all',
      );
    });

    it("--account NAME: deploy.sh --account, the …@NAME units, the account's env files", async () => {
      const result = await script('p34_deploy_and_proof.sh', ['--dry-run', '--account', 'acct1']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(
        '1/3 install/update: ops/deploy.sh --dry-run --account acct1',
      );
      const restarts = [...result.stdout.matchAll(/^\[dry-run\] systemctl restart (\S+)$/gm)].map(
        (m) => m[1],
      );
      expect(restarts).toEqual([
        'quantum-reconcile-engine@acct1.service',
        'quantum-position-state-brain@acct1.service',
      ]);
      expect(result.stdout).toContain(
        'p34_proof.sh --env-file /etc/quantum/reconcile-engine-acct1.env --brain-env-file /etc/quantum/position-state-brain-acct1.env',
      );
      const bad = await script('p33_deploy_and_proof.sh', ['--dry-run', '--account', '../x']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('is not an account name');
    });

    it.each(SCRIPTS)('%s: an unknown option is a usage error (exit 2)', async (name) => {
      const result = await script(name, ['--frobnicate']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('unknown option --frobnicate');
    });
  });

  describe('a real run with --root against running services', () => {
    const prefix = uniquePrefix('dap');
    let server: EmbeddedRedis;
    let stack: Stack;

    beforeAll(async () => {
      server = await startEmbeddedRedis();
      stack = await startStack({
        redisUrl: server.url,
        prefix,
        symbols: ['BTCUSDT', 'PROOFUSDT'],
        env: {
          P33_POLL_SEC: '0.5',
          P33_STALE_THRESHOLD_SEC: '2',
          P34_LOOP_CADENCE_SEC: '0.2',
          P34_EXCHANGE_FRESHNESS_SEC: '2',
        },
      });
    }, 60_000);

    afterAll(async () => {
      await stack?.stop();
      await server?.stop();
    }, 30_000);

    it.each(SCRIPTS)(
      '%s installs, finds the services ready, proves them: PASS',
      async (name) => {
        const root = join(scratch, `root-${name}`);
        const result = await script(
          name,
          ['--root', root, '--node', process.execPath, '--require-all'],
          stack.env,
        );
        const tag = name.replace('.sh', '');
        expect(lastLine(result), result.stdout + result.stderr + stack.logs()).toBe(`${tag}: PASS`);
        expect(result.code).toBe(0);
        expect(existsSync(join(root, 'opt/posguard/dist/src/cli/main.js'))).toBe(true);
        expect(existsSync(join(root, 'etc/quantum/position-state-brain.env'))).toBe(true);
        expect(result.stdout).toContain(`${tag}: restart: skipped under --root (no systemctl)`);
        expect(result.stdout).toContain(`${tag}: ready: ${stack.brainUrl}/readyz 200`);
        if (name.startsWith('p34'))
          expect(result.stdout).toContain(`${tag}: ready: ${stack.reconcileUrl}/readyz 200`);
        // the installed proof ran and every check passed
        const proof = name.startsWith('p33') ? 'p33_proof' : 'p34_proof';
        expect(result.stdout).toMatch(new RegExp(`^${proof}: \\d+ PASS, 0 FAIL, 0 SKIP$`, 'm'));
        expect(result.stdout).not.toMatch(/^FAIL /m);
      },
      240_000,
    );

    it('FAIL at the proof when the proof fails (symbol not allowlisted), exit 1', async () => {
      const root = join(scratch, 'root-fail');
      const result = await script(
        'p33_deploy_and_proof.sh',
        ['--root', root, '--node', process.execPath, '--symbol', 'ETHUSDT'],
        stack.env,
      );
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^FAIL {2}allowlist/m);
      expect(lastLine(result)).toBe('p33_deploy_and_proof: FAIL at proof (p33_proof.sh)');
    }, 240_000);

    it('FAIL at restart when a service never becomes ready, exit 1 (no proof run)', async () => {
      expect(await stack.stopService('reconcile')).toBe(0);
      const root = join(scratch, 'root-fail');
      const result = await script(
        'p34_deploy_and_proof.sh',
        ['--root', root, '--node', process.execPath, '--ready-timeout', '2'],
        stack.env,
      );
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(`not ready within 2s: ${stack.reconcileUrl}/readyz`);
      expect(lastLine(result)).toBe('p34_deploy_and_proof: FAIL at restart (not ready)');
      expect(result.stdout).not.toContain('3/3 proof');
    }, 240_000);
  });
});
