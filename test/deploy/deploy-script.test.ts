/**
 * ops/deploy.sh, exercised without touching this machine: --dry-run changes nothing,
 * --root DIR installs into a staging tree, a second run changes nothing (idempotent),
 * an operator's env file is never overwritten, and the staged app actually runs
 * (production dependencies and the Lua scripts made it across).
 */
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, fingerprint } from './deploy-run.js';
import { hasTool, repoPath, run, skipNotice } from './tools.js';

const UNITS = [
  'quantum-position-state-brain.service',
  'quantum-reconcile-engine.service',
  // the template units for several accounts are installed too (enabled only by --account)
  'quantum-position-state-brain@.service',
  'quantum-reconcile-engine@.service',
];
const ENV_FILES = ['position-state-brain.env', 'reconcile-engine.env'];

const built = existsSync(repoPath('dist/src/cli/main.js'));
if (!built) skipNotice('dist/', 'the ops/deploy.sh tests', 'npm run build (npm test does it)');

describe.skipIf(!built)('ops/deploy.sh', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'pg-deploy-'));
  const root = join(scratch, 'root');
  // The checkout may change under us (a rebuild): install it once into a frozen staging
  // tree, and use that installed app as the --source of the runs compared below.
  const frozen = join(scratch, 'frozen');
  const source = join(frozen, 'opt/posguard');
  let fromRepo: Awaited<ReturnType<typeof run>>;
  let first: Awaited<ReturnType<typeof run>>;
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  beforeAll(async () => {
    fromRepo = await deploy(['--root', frozen]);
    first = await deploy(['--source', source, '--root', root]);
  }, 120_000);

  it('--dry-run prints every action and creates nothing', async () => {
    const target = join(scratch, 'dry');
    const result = await deploy(['--dry-run', '--root', target]);
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(target)).toBe(false);
    expect(result.stdout).toContain('dry run: nothing will be changed');
    expect(result.stdout).toMatch(/dist\/: [1-9]\d* entries would change/);
    expect(result.stdout).toMatch(/\[dry-run\] install -m 0640 .*position-state-brain\.env/);
    expect(result.stdout).toMatch(
      /\[dry-run\] install -m 0644 .*quantum-reconcile-engine\.service/,
    );
  });

  it('--dry-run against the real paths only prints the system changes', async () => {
    const result = await deploy(['--dry-run']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /\[dry-run\] systemctl enable quantum-position-state-brain\.service quantum-reconcile-engine\.service/,
    );
    expect(result.stdout).toMatch(/user: (posguard exists|creating system user posguard)/);
    if (!existsSync('/etc/systemd/system/quantum-reconcile-engine.service')) {
      expect(result.stdout).toContain('[dry-run] systemctl daemon-reload');
    }
  });

  it('--root installs the app, the env files and the units', () => {
    expect(fromRepo.code, fromRepo.stdout + fromRepo.stderr).toBe(0);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    // an installed app is itself a complete source (same file set)
    expect(new Set(fingerprint(join(root, 'opt/posguard')).keys())).toEqual(
      new Set(fingerprint(source).keys()),
    );
    const app = join(root, 'opt/posguard');
    expect(existsSync(join(app, 'dist/src/cli/main.js'))).toBe(true);
    expect(
      readdirSync(join(app, 'src/redis/lua')).filter((f) => f.endsWith('.lua')).length,
    ).toBeGreaterThan(0);
    // production dependencies only
    expect(existsSync(join(app, 'node_modules/ioredis/package.json'))).toBe(true);
    expect(existsSync(join(app, 'node_modules/vitest'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/typescript'))).toBe(false);
    for (const file of ENV_FILES) {
      const installed = join(root, 'etc/quantum', file);
      expect(readFileSync(installed, 'utf8')).toBe(
        readFileSync(repoPath('deploy/config', file), 'utf8'),
      );
      expect(statSync(installed).mode & 0o777).toBe(0o640);
    }
    for (const unit of UNITS) {
      expect(readFileSync(join(root, 'etc/systemd/system', unit), 'utf8')).toBe(
        readFileSync(repoPath('deploy/systemd', unit), 'utf8'),
      );
    }
    expect(first.stdout).toContain('systemd: skipped under --root');
  });

  it('changes nothing when run again (idempotent)', async () => {
    const before = fingerprint(root);
    const again = await deploy(['--source', source, '--root', root]);
    expect(again.code, again.stderr).toBe(0);
    expect(fingerprint(root)).toEqual(before);
    expect(again.stdout).not.toMatch(/[1-9]\d* entries changed/);
    expect(again.stdout.match(/kept \(never overwritten\)/g)).toHaveLength(2);
    expect(again.stdout.match(/unchanged/g)).toHaveLength(UNITS.length);
  }, 120_000);

  it("never overwrites an operator's env file, and lists the variables it lacks", async () => {
    const file = join(root, 'etc/quantum/reconcile-engine.env');
    const operator = 'REDIS_URL=redis://10.0.0.5:6379\nP34_ALLOWLIST=BTCUSDT,ETHUSDT\n';
    writeFileSync(file, operator);
    const result = await deploy(['--source', source, '--root', root]);
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(operator);
    expect(result.stdout).toMatch(/reconcile-engine\.env does not set: .*P34_HOLD_TTL_SEC/);
    expect(result.stdout).not.toMatch(/does not set: .*P34_ALLOWLIST/);
  }, 120_000);

  it('puts --prefix and --node into the installed units', async () => {
    const other = join(scratch, 'other');
    const result = await deploy([
      '--root',
      other,
      '--prefix',
      '/srv/pg',
      '--node',
      process.execPath,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const unit = readFileSync(join(other, 'etc/systemd/system', UNITS[0] ?? ''), 'utf8');
    expect(unit).toContain(`ExecStart=${process.execPath} /srv/pg/dist/src/cli/main.js brain`);
    expect(unit).toContain('WorkingDirectory=/srv/pg');
    expect(unit).not.toContain('/opt/posguard');
    expect(existsSync(join(other, 'srv/pg/dist/src/cli/main.js'))).toBe(true);
  }, 120_000);

  it('the staged install runs: the CLI loads and doctor passes the config of each env file', async () => {
    const app = join(root, 'opt/posguard');
    const help = await run(process.execPath, [join(app, 'dist/src/cli/main.js'), '--help'], {
      cwd: scratch,
    });
    expect(help.code, help.stderr).toBe(0);
    const doctor = (file: string): ReturnType<typeof run> =>
      run(
        process.execPath,
        [
          join(app, 'dist/src/cli/main.js'),
          'doctor',
          '--env-file',
          repoPath('deploy/config', file),
          '--json',
        ],
        // no Redis / exchange needed for the config line: point both at closed ports
        {
          cwd: scratch,
          env: {
            ...process.env,
            REDIS_URL: 'redis://127.0.0.1:1',
            BINANCE_BASE_URL: 'http://127.0.0.1:1',
          },
        },
      );
    for (const result of await Promise.all(ENV_FILES.map(doctor))) {
      const report = JSON.parse(result.stdout) as { checks: { name: string; level: string }[] };
      expect(report.checks.find((c) => c.name === 'config')?.level, result.stdout).toBe('PASS');
    }
  });

  it('wants the Node that package.json engines declares (20 ≥ 20.19): a warning under --dry-run', async () => {
    const ok = await deploy([
      '--dry-run',
      '--root',
      join(scratch, 'node-ok'),
      '--node',
      process.execPath,
    ]);
    expect(ok.stdout).not.toContain('WARNING');
    const other = await deploy([
      '--dry-run',
      '--root',
      join(scratch, 'node-bad'),
      '--node',
      '/bin/true',
    ]);
    expect(other.code, other.stderr).toBe(0);
    expect(other.stdout).toContain(
      'deploy: WARNING: /bin/true is not Node 20 ≥ 20.19 (package.json engines ^20.19.0)',
    );
  });

  it('rejects unknown options with exit 2', async () => {
    expect((await deploy(['--frobnicate'])).code).toBe(2);
  });
});

describe('ops shell scripts', () => {
  const scripts = readdirSync(repoPath('ops')).filter((f) => f.endsWith('.sh'));

  it.each(scripts)('%s parses (bash -n)', async (script) => {
    const result = await run('bash', ['-n', repoPath('ops', script)]);
    expect(result.code, result.stderr).toBe(0);
  });

  const shellcheck = hasTool('shellcheck');
  if (!shellcheck) skipNotice('shellcheck', 'shellcheck on ops/*.sh', 'apt-get install shellcheck');
  it.skipIf(!shellcheck).each(scripts)('%s is shellcheck-clean', async (script) => {
    const result = await run('shellcheck', ['-x', repoPath('ops', script)]);
    expect(result.code, result.stdout).toBe(0);
  });
});
