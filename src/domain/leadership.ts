/**
 * Leaders and leases (SPEC §11): the roles that have exactly one leader, the names of
 * instances, epochs, and the timing rule that makes a leader stop believing it leads
 * before its lease can have expired in Redis.
 *
 * Why the safety margin (LESSONS #24): a renewal sent at local time `sentAt` runs in Redis
 * no earlier than `sentAt`, and sets the lease to expire `leaseMs` after it ran — so the
 * lease cannot expire (and nobody else can acquire it) before `sentAt + leaseMs` on
 * Redis' clock. The leader stops believing at `sentAt + leaseMs − safetyMarginMs` on its
 * own clock. The margin absorbs what separates the two: a late timer (event-loop lag of
 * up to the margin), the rate difference between two hosts' clocks over one lease
 * (microseconds) and Redis' millisecond expiry resolution. It does NOT cover a process
 * that is paused (GC, SIGSTOP, a suspended VM) or whose clock stops: such a leader wakes
 * up believing it still leads, and only the fence in every write script stops its writes.
 * The fence compares epochs, so epochs must never repeat, even after Redis lost them: see
 * `isEpoch` below and src/redis/lua/lease_acquire.lua.
 */
import { PosguardError } from '../errors.js';

/** The roles with one leader each: the reconcile engine, and the brain's snapshot poller + user stream + lot sizes. */
export const LEADER_ROLES = ['reconcile', 'brain-poller'] as const;
export type LeaderRole = (typeof LEADER_ROLES)[number];

export function isLeaderRole(value: unknown): value is LeaderRole {
  return typeof value === 'string' && (LEADER_ROLES as readonly string[]).includes(value);
}

/** Instance ids become part of key names (`P:posguard:instance:<service>:<id>`). */
export const INSTANCE_ID_RE = /^[A-Za-z0-9:_.-]{1,128}$/;
/** Service names in presence keys: `brain`, `reconcile`, … (no `:` — it separates the id). */
export const SERVICE_NAME_RE = /^[a-z][a-z0-9-]{0,31}$/;

export function isInstanceId(value: unknown): value is string {
  return typeof value === 'string' && INSTANCE_ID_RE.test(value);
}

export function isServiceName(value: unknown): value is string {
  return typeof value === 'string' && SERVICE_NAME_RE.test(value);
}

/**
 * The default instance id `hostname:pid` (SPEC §11). Characters a key name may not hold
 * become `_`; a long hostname is cut so the id fits 128 characters.
 */
export function defaultInstanceId(hostname: string, pid: number): string {
  const host = (hostname.replace(/[^A-Za-z0-9_.-]/g, '_') || 'host').slice(0, 100);
  return `${host}:${Math.trunc(pid)}`;
}

/**
 * An epoch handed out by `lease_acquire`: a positive safe integer. Each acquisition hands
 * out max(last epoch, fence, Redis' TIME in ms) + 1 — about 1.7e12 today, and above every
 * earlier epoch even when a failover or a restart lost the epoch and fence keys (LESSONS
 * #24) — so epochs are ordered, not counted: a new term's is larger, not "previous + 1".
 */
export function isEpoch(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

export interface LeaseTiming {
  /** Lease length in Redis (`POSGUARD_LEASE_MS`). */
  readonly leaseMs: number;
  /** How often a leader renews and a candidate tries to acquire: lease/3. */
  readonly renewEveryMs: number;
  /** How long before the lease's earliest expiry the leader steps down. */
  readonly safetyMarginMs: number;
}

/** Smallest lease accepted: below this the margin and three renewals per lease make no sense. */
export const MIN_LEASE_MS = 30;

/**
 * Lease timing from the lease length. The default margin is lease/6 (500 ms at the
 * default 3000 ms): the deadline then falls after the second renewal of a lease
 * (at lease/3 and 2·lease/3), so one lost renewal costs nothing. A margin must leave at
 * least one renewal before the deadline (margin < lease − lease/3).
 */
export function leaseTiming(leaseMs: number, safetyMarginMs?: number): LeaseTiming {
  if (!Number.isSafeInteger(leaseMs) || leaseMs < MIN_LEASE_MS) {
    throw new PosguardError(
      'USAGE',
      `lease length ${leaseMs} ms: expected an integer ≥ ${MIN_LEASE_MS} (POSGUARD_LEASE_MS)`,
    );
  }
  const renewEveryMs = Math.max(1, Math.floor(leaseMs / 3));
  const margin = safetyMarginMs ?? Math.max(1, Math.round(leaseMs / 6));
  if (!Number.isSafeInteger(margin) || margin < 1 || margin >= leaseMs - renewEveryMs) {
    throw new PosguardError(
      'USAGE',
      `lease safety margin ${margin} ms: expected an integer ≥ 1 and < ${leaseMs - renewEveryMs} ms (lease ${leaseMs} ms)`,
    );
  }
  return { leaseMs, renewEveryMs, safetyMarginMs: margin };
}

/** Until when (local clock) a lease acquired or renewed by a request sent at `sentAtMs` is ours. */
export function leaderDeadlineMs(sentAtMs: number, timing: LeaseTiming): number {
  return sentAtMs + timing.leaseMs - timing.safetyMarginMs;
}

/** What a takeover after a dead reconcile leader can take, against the heartbeat's life. */
export interface TakeoverBudget {
  /** Worst case from the dead leader's last heartbeat to the new leader's first. */
  worstGapMs: number;
  /** The heartbeat's TTL: max(5 s, 3 × cadence). */
  heartbeatTtlMs: number;
  /** Whether the worst case leaves the margin: no `reconcile_engine_down` denial. */
  ok: boolean;
}

/**
 * Margin for the new leader's first cycle and the round trips of the takeover (its acquire
 * runs 1 ms after the lease's PTTL, its first cycle right after the election).
 */
export const TAKEOVER_MARGIN_MS = 1000;

/**
 * SPEC §11: "default timings make a takeover finish before the heartbeat expires". The
 * dead leader's last heartbeat is at most one cadence old when it dies; its lease lapses
 * at most one lease later; a standby acquires at that moment and runs a full cycle (the
 * margin). So `lease + cadence + margin ≤ heartbeat TTL`. Defaults: 3000 + 1000 + 1000 ≤
 * 5000 — measured in docs/reliability.md.
 */
export function takeoverBudget(
  leaseMs: number,
  cadenceSec: number,
  heartbeatTtlMs: number,
): TakeoverBudget {
  const worstGapMs = leaseMs + Math.round(cadenceSec * 1000) + TAKEOVER_MARGIN_MS;
  return { worstGapMs, heartbeatTtlMs, ok: worstGapMs <= heartbeatTtlMs };
}
