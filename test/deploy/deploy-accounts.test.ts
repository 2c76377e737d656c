/**
 * ops/deploy.sh --account NAME (SPEC §11, several accounts): the account's env files
 * (/etc/quantum/<service>-<account>.env) are the shipped ones with the account's own
 * KEY_PREFIX and metrics ports, installed only when absent, and the `…@<account>`
 * template units are what gets enabled — exercised with --dry-run and --root like the
 * other deploy tests, never on this machine.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { readEnvFile } from '../../src/config/env-file.js';
import { deploy, fingerprint } from './deploy-run.js';
import { repoPath, skipNotice } from './tools.js';

const SERVICES = [
  { env: 'position-state-brain', port: 'P33_METRICS_PORT' },
  { env: 'reconcile-engine', port: 'P34_PROMETHEUS_PORT' },
] as const;

/** The lines of `installed` that differ from the shipped env file, comments left out. */
function settingsChanged(installed: string, shipped: string): string[] {
  const settings = (text: string): string[] =>
    text.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
  const from = settings(readFileSync(repoPath('deploy/config', shipped), 'utf8'));
  const to = settings(readFileSync(installed, 'utf8'));
  expect(to.length).toBe(from.length);
  return to.filter((line, i) => line !== from[i]);
}

const built = existsSync(repoPath('dist/src/cli/main.js'));
if (!built) skipNotice('dist/', 'the ops/deploy.sh --account tests', 'npm run build');

describe.skipIf(!built)('ops/deploy.sh --account', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'pg-accounts-'));
  const root = join(scratch, 'root');
  const etc = join(root, 'etc/quantum');
  // A frozen copy of the checkout (others may rebuild it meanwhile) is the --source.
  const frozen = join(scratch, 'frozen');
  const source = join(frozen, 'opt/posguard');
  let first: Awaited<ReturnType<typeof deploy>>;
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  beforeAll(async () => {
    const frozenRun = await deploy(['--root', frozen]);
    expect(frozenRun.code, frozenRun.stdout + frozenRun.stderr).toBe(0);
    first = await deploy([
      '--source',
      source,
      '--root',
      root,
      '--account',
      'acct1',
      '--account',
      'acct2',
    ]);
  }, 120_000);

  it('--dry-run prints the account env files and the @account units to enable, and creates nothing', async () => {
    const target = join(scratch, 'dry');
    const staged = await deploy(['--dry-run', '--root', target, '--account', 'acct1']);
    expect(staged.code, staged.stdout + staged.stderr).toBe(0);
    expect(existsSync(target)).toBe(false);
    expect(staged.stdout).toMatch(
      /\[dry-run\] install -m 0640 \S+ \S+\/etc\/quantum\/position-state-brain-acct1\.env/,
    );
    expect(staged.stdout).toMatch(
      /\[dry-run\] install -m 0640 \S+ \S+\/etc\/quantum\/reconcile-engine-acct1\.env/,
    );
    // an accounts host gets no single-account deployment
    expect(staged.stdout).not.toMatch(/etc\/quantum\/position-state-brain\.env/);

    const real = await deploy(['--dry-run', '--account', 'acct1']);
    expect(real.code, real.stdout + real.stderr).toBe(0);
    expect(real.stdout).toMatch(
      /\[dry-run\] systemctl enable quantum-position-state-brain@acct1\.service quantum-reconcile-engine@acct1\.service\n/,
    );
    expect(real.stdout).not.toMatch(/systemctl enable quantum-position-state-brain\.service/);
  });

  it("installs each account's env files: its own KEY_PREFIX and ports, nothing else changed", () => {
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const expected = {
      acct1: { prefix: 'quantum-acct1', ports: [8145, 8146] },
      acct2: { prefix: 'quantum-acct2', ports: [8245, 8246] },
    };
    for (const [account, { prefix, ports }] of Object.entries(expected)) {
      SERVICES.forEach(({ env, port }, i) => {
        const file = join(etc, `${env}-${account}.env`);
        expect(statSync(file).mode & 0o777, file).toBe(0o640);
        expect(settingsChanged(file, `${env}.env`).sort(), file).toEqual(
          [`KEY_PREFIX=${prefix}`, `${port}=${ports[i]}`].sort(),
        );
        // the services' own loader accepts it and sees the account's prefix and port
        const config = loadConfig(readEnvFile(file));
        expect(config.keys.prefix).toBe(prefix);
        expect(i === 0 ? config.brain.metricsPort : config.reconcile.metricsPort).toBe(ports[i]);
        expect(readFileSync(file, 'utf8')).toContain(`${env}-${account}.env`);
      });
    }
    // no single-account env files on an accounts host
    expect(existsSync(join(etc, 'position-state-brain.env'))).toBe(false);
    expect(existsSync(join(etc, 'reconcile-engine.env'))).toBe(false);
    for (const unit of [
      'quantum-position-state-brain@.service',
      'quantum-reconcile-engine@.service',
    ]) {
      expect(readFileSync(join(root, 'etc/systemd/system', unit), 'utf8')).toBe(
        readFileSync(repoPath('deploy/systemd', unit), 'utf8'),
      );
    }
    expect(first.stdout).toMatch(
      /account acct1: KEY_PREFIX=quantum-acct1, metrics brain :8145, reconcile :8146/,
    );
    expect(first.stdout).toContain(
      'systemctl restart quantum-reconcile-engine@acct1 quantum-position-state-brain@acct1',
    );
  });

  it('changes nothing when run again: the account env files are kept', async () => {
    const before = fingerprint(root);
    const again = await deploy([
      '--source',
      source,
      '--root',
      root,
      '--account',
      'acct1',
      '--account',
      'acct2',
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(fingerprint(root)).toEqual(before);
    expect(again.stdout.match(/kept \(never overwritten\)/g)).toHaveLength(4);
    expect(again.stdout).toMatch(
      /account acct2: KEY_PREFIX=quantum-acct2, metrics brain :8245, reconcile :8246/,
    );
  }, 120_000);

  it('a new account gets ports no env file in /etc/quantum uses yet', async () => {
    // an operator's own account file already holds 8345
    writeFileSync(
      join(etc, 'position-state-brain-manual.env'),
      'KEY_PREFIX=manual\nP33_METRICS_PORT=8345\n',
    );
    const result = await deploy(['--source', source, '--root', root, '--account', 'acct3']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(
      loadConfig(readEnvFile(join(etc, 'position-state-brain-acct3.env'))).brain.metricsPort,
    ).toBe(8445);
    expect(
      loadConfig(readEnvFile(join(etc, 'reconcile-engine-acct3.env'))).reconcile.metricsPort,
    ).toBe(8446);
  }, 120_000);

  it("--metrics-ports sets an account's ports (the same on every host), and refuses taken ones", async () => {
    const other = join(scratch, 'ports');
    const ok = await deploy([
      '--source',
      source,
      '--root',
      other,
      '--account',
      'east',
      '--metrics-ports',
      '9145,9146',
    ]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(
      loadConfig(readEnvFile(join(other, 'etc/quantum/position-state-brain-east.env'))).brain
        .metricsPort,
    ).toBe(9145);
    expect(
      loadConfig(readEnvFile(join(other, 'etc/quantum/reconcile-engine-east.env'))).reconcile
        .metricsPort,
    ).toBe(9146);

    const taken = await deploy([
      '--source',
      source,
      '--root',
      other,
      '--account',
      'west',
      '--metrics-ports',
      '9146,9147',
    ]);
    expect(taken.code).not.toBe(0);
    expect(taken.stderr).toMatch(/port 9146 is already used by \S+reconcile-engine-east\.env/);
    expect(taken.stdout, 'refused before any change').not.toContain('app:');
    expect(existsSync(join(other, 'etc/quantum/position-state-brain-west.env'))).toBe(false);
  }, 120_000);

  it('warns when two accounts share a KEY_PREFIX', async () => {
    const file = join(etc, 'reconcile-engine-acct2.env');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('KEY_PREFIX=quantum-acct2', 'KEY_PREFIX=quantum-acct1'),
    );
    const result = await deploy(['--source', source, '--root', root, '--account', 'acct1']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /WARNING: KEY_PREFIX=quantum-acct1 is used by accounts acct1 and acct2/,
    );
  }, 120_000);

  it.each([
    [['--account', '../etc'], /--account: "\.\.\/etc" is not an account name/],
    [['--account', ''], /--account: "" is not an account name/],
    [['--metrics-ports', '9145,9146'], /--metrics-ports needs exactly one --account/],
    [
      ['--account', 'a', '--account', 'b', '--metrics-ports', '9145,9146'],
      /--metrics-ports needs exactly one --account/,
    ],
    [['--account', 'a', '--metrics-ports', '9145'], /--metrics-ports: expected BRAIN,RECONCILE/],
  ])('refuses %j and changes nothing', async (args, message) => {
    const target = join(scratch, `bad-${Math.random().toString(36).slice(2)}`);
    const result = await deploy(['--dry-run', '--root', target, ...args]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
    expect(existsSync(target)).toBe(false);
  });
});
