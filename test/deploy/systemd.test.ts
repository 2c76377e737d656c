/**
 * The systemd units: `systemd-analyze verify` accepts them with no warning (and does
 * reject a broken copy, so the check is real), `systemd-analyze security` rates them
 * well, and the settings the runbook relies on are there.
 *
 * The template units for several accounts (`…@<account>.service`, SPEC §11) are the
 * single-account units with the account in three places (env file, ExecStart's
 * --env-file, SyslogIdentifier) and the Description: every other setting, and the
 * hardening block byte for byte, must be the same — so hardening has one source of truth.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasTool, repoPath, run, skipNotice } from './tools.js';

const UNITS = {
  brain: {
    file: 'quantum-position-state-brain.service',
    command: 'brain',
    env: '/etc/quantum/position-state-brain.env',
  },
  reconcile: {
    file: 'quantum-reconcile-engine.service',
    command: 'reconcile',
    env: '/etc/quantum/reconcile-engine.env',
  },
} as const;

type Unit = Map<string, string[]>;

/** `Section.Key` → every value assigned (systemd keys may repeat). */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = header[1] ?? '';
      continue;
    }
    const eq = line.indexOf('=');
    const key = `${section}.${line.slice(0, eq)}`;
    unit.set(key, [...(unit.get(key) ?? []), line.slice(eq + 1)]);
  }
  return unit;
}

function one(unit: Unit, key: string): string | undefined {
  return unit.get(key)?.at(-1);
}

const analyze = hasTool('systemd-analyze');
if (!analyze) skipNotice('systemd-analyze', 'systemd unit verification', 'apt-get install systemd');

/** Text from the hardening banner to [Install], comments included. */
function hardeningBlock(text: string): string {
  const start = text.indexOf('# --- Hardening');
  const end = text.indexOf('[Install]');
  if (start < 0 || end < start) throw new Error('no hardening block');
  return text.slice(start, end);
}

/** `Overall exposure level` of `systemd-analyze security --offline`, or null when unsupported. */
async function exposure(path: string): Promise<number | null> {
  const result = await run('systemd-analyze', ['security', '--offline=yes', path]);
  const match = /Overall exposure level for \S+: ([\d.]+)/.exec(result.stdout + result.stderr);
  if (!match) {
    process.stderr.write(
      `NOTICE: systemd-analyze security --offline unsupported here:\n${result.stderr}\n`,
    );
    return null;
  }
  return Number(match[1]);
}

/** A copy of a unit in `dir` that verify can resolve (this machine's node when /usr/bin/node is absent). */
function verifiableCopy(dir: string, file: string, body: string): string {
  const copy = join(dir, file);
  const node = existsSync('/usr/bin/node') ? '/usr/bin/node' : process.execPath;
  writeFileSync(copy, body.replace('ExecStart=/usr/bin/node', `ExecStart=${node}`));
  return copy;
}

describe.each(Object.values(UNITS))('$file', ({ file, command, env }) => {
  const path = repoPath('deploy/systemd', file);
  const text = readFileSync(path, 'utf8');
  const unit = parseUnit(text);
  const scratch = mkdtempSync(join(tmpdir(), 'pg-unit-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const verifiable = (body: string): string => verifiableCopy(scratch, file, body);

  it('runs the posguard CLI with the seed env file, as the posguard user', () => {
    expect(one(unit, 'Service.ExecStart')).toBe(
      `/usr/bin/node /opt/posguard/dist/src/cli/main.js ${command} --env-file ${env}`,
    );
    expect(one(unit, 'Service.EnvironmentFile')).toBe(env);
    expect(one(unit, 'Service.User')).toBe('posguard');
    expect(one(unit, 'Service.Group')).toBe('posguard');
    expect(one(unit, 'Unit.After')).toContain('redis-server.service');
    expect(one(unit, 'Unit.After')).toContain('network-online.target');
    expect(one(unit, 'Unit.Wants')).toContain('network-online.target');
    expect(one(unit, 'Install.WantedBy')).toBe('multi-user.target');
  });

  it('restarts forever with a delay and stops with SIGTERM', () => {
    expect(one(unit, 'Service.Restart')).toBe('always');
    expect(Number(one(unit, 'Service.RestartSec'))).toBeGreaterThan(0);
    expect(one(unit, 'Unit.StartLimitIntervalSec')).toBeDefined();
    expect(one(unit, 'Unit.StartLimitBurst')).toBeDefined();
    expect(one(unit, 'Service.KillSignal')).toBe('SIGTERM');
    expect(Number(one(unit, 'Service.TimeoutStopSec'))).toBeGreaterThan(0);
    expect(one(unit, 'Service.SyslogIdentifier')).toBe(file.replace('.service', ''));
  });

  it('is hardened, writes nowhere, and leaves W^X off for the V8 JIT', () => {
    const expected: Record<string, string> = {
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      LockPersonality: 'yes',
      CapabilityBoundingSet: '',
      MemoryDenyWriteExecute: 'no',
    };
    for (const [key, value] of Object.entries(expected)) {
      expect(one(unit, `Service.${key}`), key).toBe(value);
    }
    expect(one(unit, 'Service.ReadOnlyPaths')).toContain('/opt/posguard');
    expect(unit.has('Service.ReadWritePaths')).toBe(false);
    expect(text).toMatch(/JIT/);
  });

  it.skipIf(!analyze)('passes systemd-analyze verify without a warning', async () => {
    const result = await run('systemd-analyze', ['verify', verifiable(text)]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr.trim()).toBe('');
  });

  it.skipIf(!analyze)('is actually checked: verify rejects a broken copy', async () => {
    const broken = text.replace('Restart=always', 'Restart=always\nRestartFrobnicate=yes');
    const result = await run('systemd-analyze', ['verify', verifiable(broken)]);
    expect(result.stderr).toMatch(/Unknown key/);
  });

  it.skipIf(!analyze)('rates OK in systemd-analyze security (exposure ≤ 2.0)', async () => {
    const level = await exposure(verifiable(text));
    if (level !== null) expect(level).toBeLessThanOrEqual(2.0);
  });
});

const TEMPLATES = [
  { template: 'quantum-position-state-brain@.service', single: UNITS.brain },
  { template: 'quantum-reconcile-engine@.service', single: UNITS.reconcile },
] as const;
/** The settings in which a template differs from its single-account unit. */
const PER_ACCOUNT = [
  'Unit.Description',
  'Service.EnvironmentFile',
  'Service.ExecStart',
  'Service.SyslogIdentifier',
];

describe.each(TEMPLATES)('$template (several accounts)', ({ template, single }) => {
  const path = repoPath('deploy/systemd', template);
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const unit = parseUnit(text);
  const singleText = readFileSync(repoPath('deploy/systemd', single.file), 'utf8');
  const singleUnit = parseUnit(singleText);
  const name = template.replace('@.service', '');
  const accountEnv = single.env.replace(/\.env$/, '-%i.env');
  const scratch = mkdtempSync(join(tmpdir(), 'pg-template-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('exists', () => {
    expect(existsSync(path), path).toBe(true);
  });

  it("reads the account's own env file (/etc/quantum/<service>-<account>.env)", () => {
    expect(one(unit, 'Service.EnvironmentFile')).toBe(accountEnv);
    expect(one(unit, 'Service.ExecStart')).toBe(
      `/usr/bin/node /opt/posguard/dist/src/cli/main.js ${single.command} --env-file ${accountEnv}`,
    );
    expect(one(unit, 'Service.SyslogIdentifier')).toBe(`${name}@%i`);
    expect(one(unit, 'Unit.Description')).toContain('%i');
  });

  it('has every other setting of the single-account unit, with the same value', () => {
    const keys = new Set([...singleUnit.keys(), ...unit.keys()]);
    const differ = [...keys].filter(
      (key) =>
        !PER_ACCOUNT.includes(key) &&
        JSON.stringify(unit.get(key)) !== JSON.stringify(singleUnit.get(key)),
    );
    expect(differ).toEqual([]);
  });

  it('has the hardening block of the single-account unit byte for byte', () => {
    expect(hardeningBlock(text)).toBe(hardeningBlock(singleText));
  });

  it.skipIf(!analyze)(
    'an instance (@acct1) passes systemd-analyze verify without a warning',
    async () => {
      verifiableCopy(scratch, template, text);
      const result = await run('systemd-analyze', [
        'verify',
        join(scratch, `${name}@acct1.service`),
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr.trim()).toBe('');
    },
  );

  it.skipIf(!analyze)(
    'is actually checked: verify of an instance rejects a broken template',
    async () => {
      const dir = mkdtempSync(join(scratch, 'broken-'));
      verifiableCopy(
        dir,
        template,
        text.replace('Restart=always', 'Restart=always\nRestartFrobnicate=yes'),
      );
      const result = await run('systemd-analyze', ['verify', join(dir, `${name}@acct1.service`)]);
      expect(result.stderr).toMatch(/Unknown key/);
    },
  );

  it.skipIf(!analyze)(
    'rates no worse in systemd-analyze security than the single-account unit',
    async () => {
      const dir = mkdtempSync(join(scratch, 'security-'));
      verifiableCopy(dir, template, text);
      const instance = await exposure(join(dir, `${name}@acct1.service`));
      const base = await exposure(verifiableCopy(dir, single.file, singleText));
      if (base === null) return; // --offline unsupported: noticed above
      expect(instance, 'no exposure level for the instance').not.toBeNull();
      expect(instance).toBeLessThanOrEqual(base);
    },
  );
});
