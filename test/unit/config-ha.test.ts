/** POSGUARD_INSTANCE_ID and POSGUARD_LEASE_MS (SPEC §11). */
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';

const problemsOf = (env: Record<string, string>): readonly string[] => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('several instances: instance id and lease (SPEC §11)', () => {
  it('defaults: no instance id (the service uses hostname:pid), a 3000 ms lease', () => {
    expect(loadConfig({}).ha).toEqual({ instanceId: undefined, leaseMs: 3000 });
    expect(CONFIG_VARIABLES).toEqual(
      expect.arrayContaining(['POSGUARD_INSTANCE_ID', 'POSGUARD_LEASE_MS']),
    );
  });

  it('reads a given id and lease; an empty id is unset (env files ship it empty)', () => {
    const c = loadConfig({ POSGUARD_INSTANCE_ID: 'host-a.reconcile', POSGUARD_LEASE_MS: '1500' });
    expect(c.ha).toEqual({ instanceId: 'host-a.reconcile', leaseMs: 1500 });
    expect(loadConfig({ POSGUARD_INSTANCE_ID: '' }).ha.instanceId).toBeUndefined();
  });

  it('refuses an id that cannot be part of a key name, and a lease too short or not an integer', () => {
    const problems = problemsOf({
      POSGUARD_INSTANCE_ID: 'host a/1',
      POSGUARD_LEASE_MS: '10',
    });
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).toMatch(
      /POSGUARD_INSTANCE_ID="host a\/1": expected 1-128 characters/,
    );
    expect(problems.join('\n')).toMatch(/POSGUARD_LEASE_MS=.*integer between 30 and 600000/);
    expect(problemsOf({ POSGUARD_LEASE_MS: '2500.5' }).join('\n')).toMatch(/POSGUARD_LEASE_MS/);
    expect(problemsOf({ POSGUARD_INSTANCE_ID: 'x'.repeat(129) }).join('\n')).toMatch(
      /POSGUARD_INSTANCE_ID/,
    );
  });
});
