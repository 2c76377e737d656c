/**
 * Supply chain: the lockfile is committed and agrees with package.json, so `npm ci`
 * installs exactly what was audited. `npm audit --omit=dev` needs the registry and is run
 * as a documented command (docs/reliability.md records its output), not inside the suite.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface Manifest {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

interface Lockfile {
  lockfileVersion: number;
  packages: Record<string, Manifest & { version?: string; dev?: boolean }>;
}

describe('lockfile', () => {
  it('package-lock.json is tracked by git and matches package.json', () => {
    const tracked = spawnSync('git', ['ls-files', '--error-unmatch', 'package-lock.json'], {
      encoding: 'utf8',
    });
    expect(tracked.status, tracked.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as Manifest;
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as Lockfile;
    expect(lock.lockfileVersion).toBeGreaterThanOrEqual(2);
    const root = lock.packages[''];
    expect(root?.dependencies).toEqual(manifest.dependencies);
    expect(root?.devDependencies).toEqual(manifest.devDependencies);
    // Every runtime dependency is locked to an exact, non-dev version.
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      const locked = lock.packages[`node_modules/${name}`];
      expect(locked?.version, name).toMatch(/^\d+\.\d+\.\d+/);
      expect(locked?.dev ?? false, name).toBe(false);
    }
  });
});
