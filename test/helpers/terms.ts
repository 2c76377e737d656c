/**
 * Leader terms for tests and benches that drive a role's writers directly (SPEC §11): the
 * role's lease taken through `takeSoleTerm` (src/redis/ha/sole-term.ts) under the test's key
 * prefix, so every write carries a real epoch and passes the real fence.
 */
import type { Redis } from 'ioredis';
import type { LeaderRole } from '../../src/domain/leadership.js';
import type { Keys } from '../../src/redis/keys.js';
import { type SoleTerm, takeSoleTerm } from '../../src/redis/ha/sole-term.js';
import type { WriterTerm } from '../../src/redis/ha/writer-term.js';
import type { FencedResult } from '../../src/redis/scripts/fencing.js';

/** Long enough that no test outlives it; a test that wants a takeover deletes the lease. */
export const TEST_LEASE_MS = 600_000;

/** Takes `role`'s lease under `keys`' prefix for a test (instance `test:<label>`). */
export function testTerm(
  redis: Redis,
  keys: Keys,
  role: LeaderRole,
  label = 'writer',
): Promise<SoleTerm> {
  return takeSoleTerm({ redis, keys, role, instanceId: `test:${label}`, leaseMs: TEST_LEASE_MS });
}

/** `inner`, recording each refusal it is told of (`fenced(…)`) in `refusals`. */
export function recordingTerm(inner: WriterTerm): WriterTerm & { refusals: FencedResult[] } {
  const refusals: FencedResult[] = [];
  return {
    role: inner.role,
    refusals,
    epoch: () => inner.epoch(),
    fenced: (refusal) => {
      refusals.push(refusal);
      inner.fenced(refusal);
    },
  };
}
