/**
 * One role's lease as seen by one instance: candidate or leader (with an epoch and a
 * local deadline). `LeaseKeeper` drives it; this file holds the transitions.
 *
 * Every Redis call is raced against a deadline on the injected clock, so a request that
 * hangs (a partition, a stopped Redis) can never keep a leader believing past
 * `leaderDeadlineMs` (src/domain/leadership.ts explains the margin). A reply that arrives
 * after the role changed state (dropped, fenced, stopped meanwhile) is ignored: each
 * transition starts a new term.
 */
import type { Redis } from 'ioredis';
import { leaderDeadlineMs, type LeaderRole, type LeaseTiming } from '../../domain/leadership.js';
import type { Clock } from '../../domain/time.js';
import { PosguardError } from '../../errors.js';
import { type Scheduler, settleWithin } from '../../runtime/clock.js';
import type { Keys } from '../keys.js';
import { leaseAcquire, type LeaseAcquireResult } from '../scripts/lease-acquire.js';
import { leaseRelease } from '../scripts/lease-release.js';
import { leaseRenew, type LeaseRenewResult } from '../scripts/lease-renew.js';
import { isReplyErrorKind } from '../scripts/reply-errors.js';
import { runScript } from '../scripts/script.js';

/**
 * What ends a leadership term:
 * - `fenced`  a script replied `fenced`: another instance acquired a higher epoch
 * - `lost`    the lease is gone or names another instance (or its key has the wrong type)
 * - `expired` no renewal was confirmed before the local deadline: Redis unreachable or
 *             slow, or this process was paused
 * - `dropped` `dropAll()`: a master switch or READONLY — the new master may hold stale leases
 * - `stopped` graceful stop; the lease is released right after
 */
export type LostReason = 'fenced' | 'lost' | 'expired' | 'dropped' | 'stopped';

export interface LeaseEvents {
  /** This instance now leads `role` with `epoch` (pass it to every write script of the role). */
  onElected(role: LeaderRole, epoch: number): void;
  /** This instance no longer leads `role`; stop the role's work at once. Fired once per term. */
  onLost(role: LeaderRole, reason: LostReason, epoch: number): void;
  /** A lease call failed or was refused (unreachable, wrong type, a lease without expiry). */
  onError?(error: Error, role: LeaderRole | null): void;
  /** A lease call (acquire or renew) got a reply from Redis, whatever it said. */
  onReply?(role: LeaderRole): void;
}

export interface LeaseContext {
  readonly redis: Redis;
  readonly keys: Keys;
  readonly instanceId: string;
  readonly timing: LeaseTiming;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly events: LeaseEvents;
  /** A call met READONLY: we are talking to a replica (a failover happened) — drop every lease. */
  readonly onReadOnly: () => void;
}

type Outcome<T> = { kind: 'reply'; value: T } | { kind: 'error'; error: Error } | { kind: 'late' };

/** `promise`'s outcome, unless `ms` pass on the injected clock first. */
async function within<T>(ctx: LeaseContext, promise: Promise<T>, ms: number): Promise<Outcome<T>> {
  try {
    const out = await settleWithin(ctx.scheduler, promise, ms);
    return out.settled ? { kind: 'reply', value: out.value } : { kind: 'late' };
  } catch (error) {
    return { kind: 'error', error: error instanceof Error ? error : new Error(String(error)) };
  }
}

type State = { kind: 'candidate' } | { kind: 'leader'; epoch: number; deadlineMs: number };

export class RoleLease {
  private state: State = { kind: 'candidate' };
  private term = 0;
  /**
   * A candidate that found the lease held tries again the moment it expires (the holder's
   * PTTL), not at the next round: a dead leader is replaced within about one lease, so the
   * takeover ends before the reconcile heartbeat lapses (SPEC §11).
   */
  private retryAtMs: number | null = null;
  /** Errors reported so far (to tell a clean reply from a refusal). */
  private errors = 0;

  constructor(
    private readonly ctx: LeaseContext,
    readonly role: LeaderRole,
  ) {}

  /** The epoch while this instance believes it leads (its deadline has not passed), else null. */
  epochAt(nowMs: number): number | null {
    return this.state.kind === 'leader' && nowMs < this.state.deadlineMs ? this.state.epoch : null;
  }

  deadlineMs(): number | null {
    return this.state.kind === 'leader' ? this.state.deadlineMs : null;
  }

  /** When a candidate should try again before the next round (the held lease's expiry), or null. */
  retryDueMs(): number | null {
    return this.state.kind === 'candidate' ? this.retryAtMs : null;
  }

  /** One round: a leader renews, a candidate (or a leader past its deadline) acquires. */
  async step(): Promise<void> {
    const now = this.ctx.clock.nowMs();
    this.expireIfDue(now);
    if (this.state.kind === 'leader') await this.renew(this.state, now);
    else await this.acquire(now);
  }

  /** Steps down when the deadline passed (a timer woke us, or we resumed after a pause). */
  expireIfDue(nowMs: number): void {
    if (this.state.kind === 'leader' && nowMs >= this.state.deadlineMs) this.stepDown('expired');
  }

  /** Ends the current term (no Redis call). */
  stepDown(reason: LostReason): void {
    if (this.state.kind !== 'leader') return;
    const { epoch } = this.state;
    this.state = { kind: 'candidate' };
    this.term += 1;
    this.emit(() => this.ctx.events.onLost(this.role, reason, epoch));
  }

  /** A write script of this role replied `fenced`: step down unless we already lead above it. */
  fenced(fence: number | null): void {
    if (this.state.kind === 'leader' && (fence === null || this.state.epoch < fence)) {
      this.stepDown('fenced');
    }
  }

  /** Graceful stop: end the term, then delete the lease if it is still ours. */
  async release(): Promise<void> {
    if (this.state.kind !== 'leader') return;
    const { epoch } = this.state;
    this.stepDown('stopped');
    const call = runScript(this.ctx.redis, leaseRelease, {
      ...this.args(),
      epoch,
    });
    const out = await within(this.ctx, call, this.ctx.timing.renewEveryMs);
    if (out.kind === 'error') this.error(out.error);
  }

  private async acquire(sentAtMs: number): Promise<void> {
    this.retryAtMs = null;
    const term = this.term;
    const { timing } = this.ctx;
    const call = runScript(this.ctx.redis, leaseAcquire, {
      ...this.args(),
      leaseMs: timing.leaseMs,
    });
    const out = await within(this.ctx, call, timing.leaseMs - timing.safetyMarginMs);
    if (term !== this.term) return;
    // Late: if it did take the lease, the next acquire re-takes it with a new epoch.
    if (out.kind === 'late') return;
    if (out.kind === 'error') return this.error(out.error);
    this.replied(() => this.onAcquireReply(out.value, sentAtMs));
  }

  private onAcquireReply(reply: LeaseAcquireResult, sentAtMs: number): void {
    switch (reply.status) {
      case 'acquired': {
        const deadlineMs = leaderDeadlineMs(sentAtMs, this.ctx.timing);
        // A reply later than the deadline leads nothing; the next round re-takes the lease.
        if (this.ctx.clock.nowMs() >= deadlineMs) return;
        this.state = { kind: 'leader', epoch: reply.epoch, deadlineMs };
        this.term += 1;
        this.emit(() => this.ctx.events.onElected(this.role, reply.epoch));
        return;
      }
      case 'held':
        // 1 ms after the PTTL the holder had when Redis answered (a little after, seen from here).
        if (reply.ttl_ms >= 0) this.retryAtMs = this.ctx.clock.nowMs() + reply.ttl_ms + 1;
        if (reply.ttl_ms === -1) {
          this.error(
            new PosguardError(
              'CONFLICT',
              `lease ${this.ctx.keys.lease(this.role)} (held by ${reply.holder}) has no expiry, so nobody else can lead ${this.role}: delete the key if ${reply.holder} is not running`,
            ),
          );
        }
        return;
      case 'wrong_type':
        return this.error(wrongType(reply.key, reply.found));
    }
  }

  private async renew(
    leader: { epoch: number; deadlineMs: number },
    sentAtMs: number,
  ): Promise<void> {
    const term = this.term;
    const { timing } = this.ctx;
    const call = runScript(this.ctx.redis, leaseRenew, {
      ...this.args(),
      epoch: leader.epoch,
      leaseMs: timing.leaseMs,
    });
    const out = await within(this.ctx, call, leader.deadlineMs - sentAtMs);
    if (term !== this.term) return;
    if (out.kind === 'late') return this.stepDown('expired');
    if (out.kind === 'error') {
      this.error(out.error);
      return this.expireIfDue(this.ctx.clock.nowMs());
    }
    this.replied(() => this.onRenewReply(out.value, sentAtMs));
  }

  private onRenewReply(reply: LeaseRenewResult, sentAtMs: number): void {
    switch (reply.status) {
      case 'renewed':
        if (this.state.kind === 'leader') {
          this.state = { ...this.state, deadlineMs: leaderDeadlineMs(sentAtMs, this.ctx.timing) };
          this.expireIfDue(this.ctx.clock.nowMs());
        }
        return;
      case 'fenced':
        return this.stepDown('fenced');
      case 'lost':
        return this.stepDown('lost');
      case 'wrong_type':
        this.error(wrongType(reply.key, reply.found));
        return this.stepDown('lost');
    }
  }

  private args(): { keys: Keys; role: LeaderRole; instanceId: string } {
    return { keys: this.ctx.keys, role: this.role, instanceId: this.ctx.instanceId };
  }

  /** Handles a reply; tells `onReply` unless handling it reported an error (a refusal). */
  private replied(handle: () => void): void {
    const before = this.errors;
    handle();
    if (this.errors === before) this.emit(() => this.ctx.events.onReply?.(this.role));
  }

  private error(error: Error): void {
    this.errors += 1;
    this.emit(() => this.ctx.events.onError?.(error, this.role));
    if (isReplyErrorKind(error, 'READONLY')) this.ctx.onReadOnly();
  }

  /** Callbacks must not throw; if one does, the keeper goes on and reports it. */
  private emit(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      try {
        this.ctx.events.onError?.(
          error instanceof Error ? error : new Error(String(error)),
          this.role,
        );
      } catch {
        // an onError that throws has nowhere left to report to
      }
    }
  }
}

function wrongType(key: string, found: string): PosguardError {
  return new PosguardError(
    'REDIS_WRONGTYPE',
    `${key} holds a ${found}: nobody leads this role until it is fixed — delete it if it is the lease; if it is the epoch or fence, set it to an integer above every epoch handed out (never lower: that would let a paused leader write again)`,
  );
}
