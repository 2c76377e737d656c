/**
 * Which writes (write-watch.ts) belong to a leader role (SPEC §11) — what the fence must
 * stop once their writer no longer leads — and the fence's own history in the feed.
 *
 * - `reconcile`: every write an engine's connection makes (state hashes, holds and their
 *   owner markers, the events stream, ledger hashes, evidence markers, the heartbeat).
 * - `brain-poller`: the brain's writes to snapshot and lot-size hashes. (A brain's other
 *   writes — permits, ledger fills, its own heartbeat — are made by every brain.)
 *
 * Never a role write: the lease bookkeeping every instance does (presence records,
 * leases, epoch counters, fences).
 */
import { LEADER_ROLES, type LeaderRole } from '../domain/leadership.js';
import type { Keys } from '../redis/keys.js';
import type { RedisWrite } from './write-watch.js';

export type ServiceOfWriter = 'brain' | 'reconcile' | null;

/** A key prefix derived from keys.ts (a valid symbol, cut off again). */
function symbolKeyPrefix(keyOf: (symbol: string) => string): string {
  return keyOf('XX').slice(0, -'XX'.length);
}

function bookkeeping(keys: Keys, key: string): boolean {
  if (key.startsWith(keys.instanceKeyPrefix)) return true;
  return LEADER_ROLES.some(
    (role) => key === keys.lease(role) || key === keys.epoch(role) || key === keys.fence(role),
  );
}

/** Whether `write`, made by a connection of `service`, is a write of `role`. */
export function isRoleWrite(
  role: LeaderRole,
  keys: Keys,
  service: ServiceOfWriter,
  write: RedisWrite,
): boolean {
  const roleKeys = write.keys.filter((key) => !bookkeeping(keys, key));
  if (roleKeys.length === 0) return false;
  if (role === 'reconcile') return service === 'reconcile';
  const prefixes = [
    symbolKeyPrefix((s) => keys.snapshot(s)),
    symbolKeyPrefix((s) => keys.symbolLotSize(s)),
  ];
  return service === 'brain' && roleKeys.some((key) => prefixes.some((p) => key.startsWith(p)));
}

/** A fence raised in the feed: the epoch it was set to and who raised it. */
export interface FenceRaise {
  readonly seq: number;
  readonly epoch: string;
  readonly client: string;
}

/** Every SET of the role's fence in the feed (each is an election: lease_acquire.lua). */
export function fenceRaises(
  role: LeaderRole,
  keys: Keys,
  writes: readonly RedisWrite[],
): FenceRaise[] {
  const fence = keys.fence(role);
  return writes
    .filter((w) => w.command === 'set' && w.keys[0] === fence)
    .map((w) => ({ seq: w.seq, epoch: w.args[1] ?? '', client: w.client }));
}
