/**
 * The one reader of several instances' state (SPEC §11) for `posguard status`, `doctor` and
 * the web page: every presence record `P:posguard:instance:<service>:<id>` and, per role,
 * the lease, the epoch counter and the fence — read as they are, judged by
 * src/domain/ha-state.ts.
 *
 * Finding the records takes a SCAN (there is no index of instances): `COUNT` per call is
 * bounded, keys are deduplicated (SCAN may return a key twice), and at most
 * `MAX_PRESENCE_RECORDS` are read. Then ONE pipeline: `TYPE`, `GET`, `PTTL` of every record
 * and of each role's three keys. A key of another type is reported with its type (its `GET`
 * fails and is not used); a key that expired between SCAN and the pipeline is left out.
 */
import type { Redis } from 'ioredis';
import {
  type HaClock,
  type HaKeysRead,
  type HaState,
  type KeyRead,
  judgeHa,
  nothingToShow,
} from '../../domain/ha-state.js';
import { LEADER_ROLES } from '../../domain/leadership.js';
import { PosguardError } from '../../errors.js';
import type { Keys } from '../keys.js';

export const PRESENCE_SCAN_COUNT = 500;
export const MAX_PRESENCE_RECORDS = 1000;

/** Presence keys under the prefix, sorted; `truncated` when more exist than `limit`. */
export async function scanPresenceKeys(
  redis: Redis,
  keys: Keys,
  limit = MAX_PRESENCE_RECORDS,
): Promise<{ keys: string[]; truncated: boolean }> {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(
      cursor,
      'MATCH',
      `${keys.instanceKeyPrefix}*`,
      'COUNT',
      PRESENCE_SCAN_COUNT,
    );
    for (const key of batch) found.add(key);
    cursor = next;
  } while (cursor !== '0' && found.size <= limit);
  const sorted = [...found].sort();
  return { keys: sorted.slice(0, limit), truncated: sorted.length > limit || cursor !== '0' };
}

type Reply = [error: Error | null, result: unknown];

/** TYPE, GET, PTTL of one key as a KeyRead. A failed TYPE or PTTL fails the whole read. */
function keyRead(key: string, [type, value, pttl]: [Reply, Reply, Reply]): KeyRead {
  const failed = type[0] ?? pttl[0];
  if (failed !== null) throw new PosguardError('REDIS_REPLY', `reading ${key}: ${failed.message}`);
  const found = String(type[1]);
  if (found === 'none') return { kind: 'missing' };
  if (found !== 'string') return { kind: 'wrong_type', found };
  // A key that expired (or changed type) between TYPE and GET reads as missing.
  if (value[0] !== null || typeof value[1] !== 'string') return { kind: 'missing' };
  const ms = Number(pttl[1]);
  if (ms === -2) return { kind: 'missing' };
  return { kind: 'string', value: value[1], ttlMs: ms === -1 ? null : ms };
}

/** Every presence record and each role's lease, epoch and fence, as Redis holds them. */
export async function readHaKeys(redis: Redis, keys: Keys): Promise<HaKeysRead> {
  const scanned = await scanPresenceKeys(redis, keys);
  const roleKeys = LEADER_ROLES.map((role) => ({
    role,
    names: [keys.lease(role), keys.epoch(role), keys.fence(role)] as const,
  }));
  const all = [...scanned.keys, ...roleKeys.flatMap((r) => r.names)];
  const pipeline = redis.pipeline();
  for (const key of all) pipeline.type(key).get(key).pttl(key);
  const replies = ((await pipeline.exec()) ?? []) as Reply[];
  const reads = new Map<string, KeyRead>();
  all.forEach((key, i) => {
    const at = 3 * i;
    const three = [replies[at], replies[at + 1], replies[at + 2]];
    if (three.some((r) => r === undefined))
      throw new PosguardError('REDIS_REPLY', `reading ${key}: no reply`);
    reads.set(key, keyRead(key, three as [Reply, Reply, Reply]));
  });
  const named = (key: string): { key: string; read: KeyRead } => ({
    key,
    read: reads.get(key) ?? { kind: 'missing' },
  });
  return {
    presence: scanned.keys.map((key) => ({
      ...named(key),
      suffix: key.slice(keys.instanceKeyPrefix.length),
    })),
    roles: roleKeys.map(({ role, names: [lease, epoch, fence] }) => ({
      role,
      lease: named(lease),
      epoch: named(epoch),
      fence: named(fence),
    })),
    truncated: scanned.truncated,
  };
}

/**
 * Instances, leaders, epochs and fences, judged; null when none of it exists (one instance
 * per service, as before SPEC §11).
 */
export async function readHaState(
  redis: Redis,
  keys: Keys,
  clock: HaClock,
): Promise<HaState | null> {
  const read = await readHaKeys(redis, keys);
  return nothingToShow(read) ? null : judgeHa(read, clock);
}
