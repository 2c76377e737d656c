/**
 * deploy/config/*.env: every variable posguard reads is there (and nothing else), with
 * its built-in default, in a form systemd's EnvironmentFile= and the service's own
 * --env-file reader understand identically; the two files agree on what they share.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config/config.js';
import { parseEnvFileText, readEnvFile } from '../../src/config/env-file.js';
import { repoPath } from './tools.js';

const FILES = {
  brain: repoPath('deploy/config/position-state-brain.env'),
  reconcile: repoPath('deploy/config/reconcile-engine.env'),
};
const SECRETS = ['BINANCE_API_KEY', 'BINANCE_API_SECRET'];
const SHARED = [
  'REDIS_URL',
  'REDIS_HOST',
  'REDIS_PORT',
  'REDIS_DB',
  'KEY_PREFIX',
  'P33_LEDGER_TTL_SEC',
];

/** What systemd's EnvironmentFile= makes of a file: NAME=rest-of-line, comments only at line start. */
function systemdView(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

describe('deploy env files', () => {
  const texts = {
    brain: readFileSync(FILES.brain, 'utf8'),
    reconcile: readFileSync(FILES.reconcile, 'utf8'),
  };
  const envs = { brain: readEnvFile(FILES.brain), reconcile: readEnvFile(FILES.reconcile) };

  it('name every variable posguard reads, and only those', () => {
    const inFiles = new Set([...Object.keys(envs.brain), ...Object.keys(envs.reconcile)]);
    expect(CONFIG_VARIABLES.length).toBeGreaterThan(30);
    expect(CONFIG_VARIABLES.filter((name) => !inFiles.has(name))).toEqual([]);
    expect([...inFiles].filter((name) => !CONFIG_VARIABLES.includes(name))).toEqual([]);
  });

  it.each(Object.keys(FILES) as (keyof typeof FILES)[])(
    '%s: every line is a comment or NAME=value that systemd and --env-file read alike',
    (name) => {
      for (const line of texts[name].split('\n')) {
        if (line.trim() === '' || line.startsWith('#')) continue;
        expect(line).toMatch(/^[A-Z][A-Z0-9_]*=[^\s#'"]*$/);
      }
      expect(parseEnvFileText(texts[name], name)).toEqual(systemdView(texts[name]));
    },
  );

  it.each(Object.keys(FILES) as (keyof typeof FILES)[])(
    '%s: every value is the built-in default (secrets are placeholders)',
    (name) => {
      const env = envs[name];
      const withoutSecrets = Object.fromEntries(
        Object.entries(env).filter(([key]) => !SECRETS.includes(key)),
      );
      expect(loadConfig(withoutSecrets)).toEqual(loadConfig({}));
      for (const key of SECRETS) {
        if (key in env) expect(env[key]).toMatch(/^(REPLACE_WITH_[A-Z_]+)?$/);
      }
      // and each file also loads as is, so the service starts from it
      expect(() => loadConfig(env)).not.toThrow();
    },
  );

  it('agree on Redis, the key prefix, the ledger TTL and the symbols', () => {
    for (const key of SHARED) {
      expect(envs.brain[key], key).toBeDefined();
      expect(envs.reconcile[key], key).toBe(envs.brain[key]);
    }
    expect(envs.reconcile.P34_ALLOWLIST).toBe(envs.brain.P33_ALLOWLIST);
  });

  it('keep each service to its own variables', () => {
    expect(Object.keys(envs.reconcile).filter((k) => k.startsWith('BINANCE_'))).toEqual([]);
    expect(Object.keys(envs.brain).filter((k) => k.startsWith('P34_'))).toEqual([]);
  });
});
