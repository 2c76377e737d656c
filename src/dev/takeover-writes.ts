/**
 * What a paused or cut-off leader wrote around a takeover (SPEC §11, LESSONS #24), read
 * from the server's MONITOR feed (write-watch.ts): its writes of the role between its own
 * election and the standby's (it was at work, and the watch saw it), and from the standby's
 * election until it is elected again, if ever — writes that landed although it no longer
 * led (the fence's target: none). For test/ha-process/fenced-leader.test.ts and the
 * fencing figure (bench/ha/fencing.ts).
 */
import type { LeaderRole } from '../domain/leadership.js';
import type { Keys } from '../redis/keys.js';
import { fenceRaises, isRoleWrite } from './role-writes.js';
import type { RedisWrite } from './write-watch.js';

/** Which instance holds a Redis connection (`host:port` as MONITOR shows it). */
export type OwnerOf = (client: string) => string | null;

const SERVICE = { reconcile: 'reconcile', 'brain-poller': 'brain' } as const;

/** The role's writes by `id`'s connections in the feed between two positions (exclusive). */
export function roleWritesBy(
  writes: readonly RedisWrite[],
  keys: Keys,
  ownerOf: OwnerOf,
  role: LeaderRole,
  id: string,
  afterSeq: number,
  beforeSeq: number,
): RedisWrite[] {
  return writes
    .filter((w) => w.seq > afterSeq && w.seq < beforeSeq && ownerOf(w.client) === id)
    .filter((w) => isRoleWrite(role, keys, SERVICE[role], w));
}

export interface TakeoverWrites {
  /** Its role writes between its election (the last fence raise to `epoch`) and the takeover. */
  before: number;
  /** Its role writes from the takeover until its own next election, `#seq command keys`. */
  landed: string[];
}

/** `id` led `role` under `epoch` (the fence's value then); a standby took over after. */
export function takeoverWrites(
  writes: readonly RedisWrite[],
  keys: Keys,
  ownerOf: OwnerOf,
  role: LeaderRole,
  id: string,
  epoch: string | null,
): TakeoverWrites {
  const raises = fenceRaises(role, keys, writes);
  const elected = raises.filter((r) => r.epoch === epoch).at(-1)?.seq ?? 0;
  const takeover = raises.find((r) => r.seq > elected && r.epoch !== epoch);
  if (takeover === undefined) throw new Error(`no fence raise after epoch ${epoch} in the feed`);
  const reElected =
    raises.find((r) => r.seq > takeover.seq && ownerOf(r.client) === id)?.seq ?? Infinity;
  const by = (after: number, before: number): RedisWrite[] =>
    roleWritesBy(writes, keys, ownerOf, role, id, after, before);
  return {
    before: by(elected, takeover.seq).length,
    landed: by(takeover.seq, reElected).map(
      (w) => `#${w.seq} ${w.command} ${w.keys.join(' ')}${w.viaScript ? ' (script)' : ''}`,
    ),
  };
}
