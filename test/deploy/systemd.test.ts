/**
 * The systemd units: `systemd-analyze verify` accepts them with no warning (and does
 * reject a broken copy, so the check is real), `systemd-analyze security` rates them
 * well, and the settings the runbook relies on are there.
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

describe.each(Object.values(UNITS))('$file', ({ file, command, env }) => {
  const path = repoPath('deploy/systemd', file);
  const text = readFileSync(path, 'utf8');
  const unit = parseUnit(text);
  const scratch = mkdtempSync(join(tmpdir(), 'pg-unit-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** verify resolves ExecStart's binary: use this machine's node when /usr/bin/node is absent. */
  const verifiable = (body: string): string => {
    const copy = join(scratch, file);
    const node = existsSync('/usr/bin/node') ? '/usr/bin/node' : process.execPath;
    writeFileSync(copy, body.replace('ExecStart=/usr/bin/node', `ExecStart=${node}`));
    return copy;
  };

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
    const result = await run('systemd-analyze', ['security', '--offline=yes', verifiable(text)]);
    const match = /Overall exposure level for \S+: ([\d.]+)/.exec(result.stdout + result.stderr);
    if (!match) {
      process.stderr.write(
        `NOTICE: systemd-analyze security --offline unsupported here:\n${result.stderr}\n`,
      );
      return;
    }
    expect(Number(match[1])).toBeLessThanOrEqual(2.0);
  });
});
