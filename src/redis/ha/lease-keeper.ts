/**
 * Keeps this instance's leases (SPEC §11): for each role it campaigns for, acquire when
 * nobody leads, renew every lease/3 while it leads, release on a graceful stop — and
 * tell the service through `onElected`/`onLost` when to start and stop the role.
 *
 * Schedule: drift-free rounds like src/reconcile/loop.ts (round n at start + n × lease/3,
 * missed rounds skipped, never overlapping), on an injected clock and scheduler. Between
 * rounds the keeper also wakes at each leader's deadline, so a leader whose renewals do
 * not get through steps down at `sent + lease − margin` — before its lease can have
 * expired in Redis and been taken by another instance — not at the next round.
 *
 * What a lease cannot do (LESSONS #24): a paused process wakes believing it leads. Its
 * writes are refused by the fence in every write script of the role; the writer passes
 * the `fenced` reply to `reportFenced`, which ends the term at once.
 */
import type { Redis } from 'ioredis';
import { leaseTiming, type LeaderRole, type LeaseTiming } from '../../domain/leadership.js';
import type { Leadership } from '../../domain/presence.js';
import type { Clock } from '../../domain/time.js';
import { PosguardError } from '../../errors.js';
import type { Keys } from '../keys.js';
import { instanceArg } from '../scripts/lease-acquire.js';
import type { InstancePresence } from './presence.js';
import { type Scheduler, settleWithin, systemClock, systemScheduler } from '../../runtime/clock.js';
import { RoleLease, type LeaseContext, type LeaseEvents } from './role-lease.js';

export type { LeaseEvents, LostReason } from './role-lease.js';

export interface LeaseKeeperOptions {
  redis: Redis;
  keys: Keys;
  instanceId: string;
  roles: readonly LeaderRole[];
  /** `POSGUARD_LEASE_MS` (default 3000). */
  leaseMs: number;
  /** Default lease/6; see src/domain/leadership.ts. */
  safetyMarginMs?: number;
  clock?: Clock;
  /** Rounds, deadlines and request time-outs run on it (tests pass a manual clock). */
  scheduler?: Scheduler;
  events: LeaseEvents;
  /** Rewritten after every round, deleted on stop. */
  presence?: InstancePresence;
}

export class LeaseKeeper {
  readonly timing: LeaseTiming;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly roles: ReadonlyMap<LeaderRole, RoleLease>;
  private controller: AbortController | null = null;
  private running: Promise<void> | null = null;
  private firstRound: Promise<void> = Promise.resolve();

  constructor(private readonly options: LeaseKeeperOptions) {
    this.timing = leaseTiming(options.leaseMs, options.safetyMarginMs);
    instanceArg({ name: 'LeaseKeeper' }, options.instanceId);
    if (options.roles.length === 0 || new Set(options.roles).size !== options.roles.length) {
      throw new PosguardError('USAGE', 'LeaseKeeper: give each role to campaign for once');
    }
    this.clock = options.clock ?? systemClock;
    this.scheduler = options.scheduler ?? systemScheduler;
    const ctx: LeaseContext = {
      redis: options.redis,
      keys: options.keys,
      instanceId: options.instanceId,
      timing: this.timing,
      clock: this.clock,
      scheduler: this.scheduler,
      events: options.events,
      onReadOnly: () => this.dropAll(),
    };
    this.roles = new Map(options.roles.map((role) => [role, new RoleLease(ctx, role)]));
  }

  /**
   * Starts the rounds (the first at once). Resolves when the first round has finished —
   * elected or not — so a service can start its loop knowing whether it leads.
   */
  start(): Promise<void> {
    if (this.running !== null) return this.firstRound;
    const controller = new AbortController();
    this.controller = controller;
    let firstDone: () => void = () => undefined;
    this.firstRound = new Promise((resolve) => (firstDone = resolve));
    this.running = this.run(controller.signal, firstDone).finally(firstDone);
    return this.firstRound;
  }

  /** Ends the rounds after the current one, steps down (`stopped`), releases, removes presence. */
  async stop(): Promise<void> {
    this.controller?.abort();
    await this.running;
    await Promise.all([...this.roles.values()].map((lease) => lease.release()));
    try {
      await this.options.presence?.remove();
    } catch (error) {
      this.report(error, null);
    }
  }

  /** One round for every role, then the presence record. The loop calls it; tests may too. */
  async tick(): Promise<void> {
    await Promise.all([...this.roles.values()].map((lease) => lease.step()));
    await this.writePresence();
  }

  /** The epoch while this instance believes it leads `role` (deadline not passed), else null. */
  epochOf(role: LeaderRole): number | null {
    return this.lease(role).epochAt(this.clock.nowMs());
  }

  /** The roles this instance believes it leads now, with their epochs. */
  leadership(): Leadership[] {
    const now = this.clock.nowMs();
    const out: Leadership[] = [];
    for (const lease of this.roles.values()) {
      const epoch = lease.epochAt(now);
      if (epoch !== null) out.push({ role: lease.role, epoch });
    }
    return out;
  }

  /**
   * A master switch or READONLY (SPEC §11): forget every lease at once (`dropped`) without
   * touching Redis — the new master may hold stale leases. The next round re-elects; a
   * stale lease of our own is re-taken with a new epoch. The keeper calls it itself when
   * one of its own calls meets READONLY; the service calls it on `+switch-master`.
   */
  dropAll(): void {
    for (const lease of this.roles.values()) lease.stepDown('dropped');
  }

  /** A write script of `role` replied `fenced`: end the term now (once), unless a newer one runs. */
  reportFenced(role: LeaderRole, fence: number | null): void {
    this.lease(role).fenced(fence);
  }

  private lease(role: LeaderRole): RoleLease {
    const lease = this.roles.get(role);
    if (lease === undefined) {
      throw new PosguardError('USAGE', `this instance does not campaign for ${role}`);
    }
    return lease;
  }

  private async run(signal: AbortSignal, firstDone: () => void): Promise<void> {
    const { clock, scheduler } = this;
    const every = this.timing.renewEveryMs;
    const start = clock.nowMs();
    let round = 0;
    while (!signal.aborted) {
      await this.tick();
      firstDone();
      // The next round not yet started (slots a long round ran over are skipped).
      round = Math.max(round + 1, Math.ceil((clock.nowMs() - start) / every));
      const dueMs = start + round * every;
      while (!signal.aborted && clock.nowMs() < dueMs) {
        const wakeMs = Math.min(dueMs, this.nextDeadlineMs(), this.nextRetryMs());
        await scheduler.sleep(wakeMs - clock.nowMs(), signal);
        const now = clock.nowMs();
        for (const lease of this.roles.values()) lease.expireIfDue(now);
        if (signal.aborted) break;
        // A held lease expired: try to take it now rather than at the next round.
        const due = [...this.roles.values()].filter((l) => (l.retryDueMs() ?? Infinity) <= now);
        if (due.length > 0) {
          await Promise.all(due.map((lease) => lease.step()));
          await this.writePresence();
        }
      }
    }
  }

  private nextRetryMs(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const lease of this.roles.values()) next = Math.min(next, lease.retryDueMs() ?? next);
    return next;
  }

  private nextDeadlineMs(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const lease of this.roles.values()) next = Math.min(next, lease.deadlineMs() ?? next);
    return next;
  }

  private async writePresence(): Promise<void> {
    const { presence } = this.options;
    if (presence === undefined) return;
    const write = presence.write(this.leadership()).catch((error: unknown) => {
      this.report(error, null);
    });
    // Never let a hung write hold the rounds up (a leader must still step down on time).
    await settleWithin(this.scheduler, write, this.timing.renewEveryMs);
  }

  private report(error: unknown, role: LeaderRole | null): void {
    try {
      this.options.events.onError?.(
        error instanceof Error ? error : new Error(String(error)),
        role,
      );
    } catch {
      // nowhere left to report to
    }
  }
}
