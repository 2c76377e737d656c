/**
 * Doctor checks of several instances (SPEC §11): the findings of the one HA judgement
 * (src/domain/ha-state.ts) as doctor lines — FAIL when a role cannot work or is unsafe (no
 * leader while instances campaign for it, a lease without expiry, an epoch or fence that is
 * not an integer or expires, a lowered fence), WARN when something is stale or odd (a claim
 * below the fence, two claimants, a lease naming an instance without presence, a presence
 * record that does not decode); otherwise PASS with each role's leader, epoch and lease age.
 * Each message ends with the fix.
 */
import type { Redis } from 'ioredis';
import type { HaClock, HaFinding, HaState, RoleState } from '../../domain/ha-state.js';
import { errorMessage } from '../../errors.js';
import { readHaState } from '../../redis/ha/instances-reader.js';
import type { Keys } from '../../redis/keys.js';
import { type CheckResult, check } from './check.js';

const LEVELS = { fail: 'FAIL', warn: 'WARN' } as const;

function findingCheck(name: string, finding: HaFinding, withSubject: boolean): CheckResult {
  const what = withSubject ? `${finding.subject}: ${finding.text}` : finding.text;
  return check(name, LEVELS[finding.level], `${what} — fix: ${finding.fix}`);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function rolePass(role: RoleState): CheckResult {
  const name = `leader ${role.role}`;
  const campaign = plural(role.campaigners.length, 'instance');
  if (role.holder === null)
    return check(name, 'PASS', `no lease, and no instance campaigns for ${role.role}`);
  const age = role.lease_age_ms === null ? 'age unknown' : `renewed ${role.lease_age_ms} ms ago`;
  return check(
    name,
    'PASS',
    `${role.holder} at epoch ${role.leader_epoch ?? '?'} (fence ${role.fence ?? '?'}), lease ${age}, ` +
      `${role.lease_ttl_ms ?? '?'} ms left; ${campaign} campaign`,
  );
}

/** The doctor lines for what the HA reader found (null: nothing of SPEC §11 in Redis). */
export function haChecks(state: HaState | null): CheckResult[] {
  if (state === null)
    return [
      check(
        'instances',
        'PASS',
        'no presence records and no leases: one instance per service (SPEC §11 not in use)',
      ),
    ];
  const results: CheckResult[] = [];
  for (const role of state.roles) {
    const found = state.findings.filter((f) => f.subject === role.role);
    if (found.length === 0) results.push(rolePass(role));
    else results.push(...found.map((f) => findingCheck(`leader ${role.role}`, f, false)));
  }
  const onRecords = state.findings.filter((f) => !state.roles.some((r) => r.role === f.subject));
  if (onRecords.length > 0)
    results.push(...onRecords.map((f) => findingCheck('instances', f, true)));
  else {
    const records = state.instances.map((i) => `${i.service}:${i.id}`);
    results.push(
      check(
        'instances',
        'PASS',
        records.length === 0
          ? 'no presence records (no instance runs with leases)'
          : `${plural(records.length, 'presence record')}: ${records.join(', ')}`,
      ),
    );
  }
  return results;
}

/** Reads and judges; a failed read is one FAIL line, never an exception. */
export async function instanceChecks(
  redis: Redis,
  keys: Keys,
  clock: HaClock,
): Promise<CheckResult[]> {
  try {
    return haChecks(await readHaState(redis, keys, clock));
  } catch (error) {
    return [
      check('instances', 'FAIL', `reading presence records and leases: ${errorMessage(error)}`),
    ];
  }
}
