/**
 * One service instance's part in SPEC §11, for the services to compose: its lease keeper,
 * its presence record, the HA metrics, the writer terms its role writers get, and what
 * a master switch does (drop every lease, re-elect).
 *
 * Metrics (registered on the service's registry, every role at 0 from the start so
 * `increase()` sees the first change):
 * - `posguard_leader{role}`                 1 while this instance leads the role
 * - `posguard_lease_transitions_total{role}` elections won by this instance (summed over
 *                                            instances: how often the lease changed hands)
 * - `posguard_fenced_writes_total{role}`     write batches refused below the fence (a
 *                                            reconcile cycle's pipeline, one snapshot or
 *                                            lot-size write: one count however many
 *                                            scripts in it refused)
 */
import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { LeaderRole } from '../../domain/leadership.js';
import type { Clock } from '../../domain/time.js';
import type { Logger } from '../../observability/logger.js';
import { type Scheduler, systemClock, systemScheduler } from '../../runtime/clock.js';
import { POSGUARD_VERSION } from '../../runtime/version.js';
import type { Keys } from '../keys.js';
import { onMasterSwitch } from '../master-switch.js';
import type { FencedResult } from '../scripts/fencing.js';
import { LeaseKeeper, type LostReason } from './lease-keeper.js';
import { InstancePresence } from './presence.js';
import type { WriterTerm } from './writer-term.js';

export interface HaMetrics {
  leader: Gauge<'role'>;
  transitions: Counter<'role'>;
  fencedWrites: Counter<'role'>;
}

export function createHaMetrics(registry: Registry, roles: readonly LeaderRole[]): HaMetrics {
  const metrics: HaMetrics = {
    leader: new Gauge({
      name: 'posguard_leader',
      help: '1 while this instance leads the role (SPEC §11), else 0',
      labelNames: ['role'],
      registers: [registry],
    }),
    transitions: new Counter({
      name: 'posguard_lease_transitions_total',
      help: 'Leases of the role this instance acquired (summed over instances: how often the lease changed hands)',
      labelNames: ['role'],
      registers: [registry],
    }),
    fencedWrites: new Counter({
      name: 'posguard_fenced_writes_total',
      help: 'Write batches of the role refused by the fence (a reconcile cycle, a snapshot or lot-size write; this instance wrote with an epoch below it): nothing was written',
      labelNames: ['role'],
      registers: [registry],
    }),
  };
  for (const role of roles) {
    metrics.leader.set({ role }, 0);
    metrics.transitions.inc({ role }, 0);
    metrics.fencedWrites.inc({ role }, 0);
  }
  return metrics;
}

export interface RoleHandlers {
  /** Start the role's work; `epoch` is what its writers pass (they read it from the term). */
  onElected(role: LeaderRole, epoch: number): void;
  /** Stop the role's work at once. */
  onLost(role: LeaderRole, reason: LostReason, epoch: number): void;
}

export interface HaInstanceOptions {
  /** A connection of its own: lease calls never queue behind a blocking read or a big pipeline. */
  redis: Redis;
  keys: Keys;
  /** `brain`, `reconcile` (presence key and logs). */
  service: string;
  instanceId: string;
  roles: readonly LeaderRole[];
  leaseMs: number;
  registry: Registry;
  logger: Logger;
  handlers: RoleHandlers;
  /** The service's other connections: a master switch seen on any of them drops every lease. */
  watch?: readonly Redis[];
  clock?: Clock;
  scheduler?: Scheduler;
}

export class HaInstance {
  readonly keeper: LeaseKeeper;
  readonly metrics: HaMetrics;
  private readonly unwatch: (() => void)[] = [];
  /** Per role, the epoch whose fenced refusal was logged last (one line per term, not per write). */
  private readonly fencedLogged = new Map<LeaderRole, number>();
  private leaseCallsFailing = false;

  constructor(private readonly o: HaInstanceOptions) {
    const clock = o.clock ?? systemClock;
    this.metrics = createHaMetrics(o.registry, o.roles);
    const presence = new InstancePresence({
      redis: o.redis,
      keys: o.keys,
      service: o.service,
      instanceId: o.instanceId,
      roles: o.roles,
      version: POSGUARD_VERSION,
      startedMs: clock.nowMs(),
      ttlMs: 3 * o.leaseMs,
    });
    this.keeper = new LeaseKeeper({
      redis: o.redis,
      keys: o.keys,
      instanceId: o.instanceId,
      roles: o.roles,
      leaseMs: o.leaseMs,
      clock,
      scheduler: o.scheduler ?? systemScheduler,
      presence,
      events: {
        onElected: (role, epoch) => {
          this.metrics.leader.set({ role }, 1);
          this.metrics.transitions.inc({ role });
          o.logger.info({ role, epoch, instance: o.instanceId }, `leading ${role}`);
          o.handlers.onElected(role, epoch);
        },
        onLost: (role, reason, epoch) => {
          this.metrics.leader.set({ role }, 0);
          const log = reason === 'stopped' ? 'info' : 'warn';
          o.logger[log](
            { role, epoch, reason, instance: o.instanceId },
            `no longer leading ${role}`,
          );
          o.handlers.onLost(role, reason, epoch);
        },
        // Once per outage, not once per round: "failing" … "answer again".
        onError: (error, role) => {
          if (this.leaseCallsFailing) return;
          this.leaseCallsFailing = true;
          o.logger.warn(
            { role, err: error.message },
            'lease calls failing (Redis unreachable or refusing); a leader steps down at its deadline, retrying every round',
          );
        },
        onReply: () => {
          if (!this.leaseCallsFailing) return;
          this.leaseCallsFailing = false;
          o.logger.info('lease calls answered again');
        },
      },
    });
  }

  /** The term a writer of `role` passes its epoch from and reports `fenced` to. */
  term(role: LeaderRole): WriterTerm {
    return {
      role,
      epoch: () => this.keeper.epochOf(role),
      fenced: (refusal) => this.fenced(role, refusal),
    };
  }

  /** Campaigns; resolves after the first round (elected or not). */
  start(): Promise<void> {
    for (const redis of [this.o.redis, ...(this.o.watch ?? [])]) {
      this.unwatch.push(
        onMasterSwitch(redis, ({ from, to }) =>
          this.masterChanged(`master switch ${from} → ${to}`),
        ),
      );
    }
    return this.keeper.start();
  }

  /** Steps down, releases the leases, removes the presence record. */
  async stop(): Promise<void> {
    for (const unwatch of this.unwatch.splice(0)) unwatch();
    await this.keeper.stop();
  }

  private masterChanged(why: string): void {
    const leading = this.keeper.leadership();
    if (leading.length > 0) {
      this.o.logger.warn(
        { why, roles: leading.map((l) => l.role) },
        'Redis master changed: dropping every lease, re-electing on the new master',
      );
    }
    this.keeper.dropAll();
  }

  private fenced(role: LeaderRole, refusal: FencedResult): void {
    this.metrics.fencedWrites.inc({ role });
    if (this.fencedLogged.get(role) !== refusal.epoch) {
      this.fencedLogged.set(role, refusal.epoch);
      this.o.logger.error(
        { role, epoch: refusal.epoch, fence: refusal.fence, instance: this.o.instanceId },
        `write refused by the fence: another instance leads ${role} with a newer epoch (this one was paused or cut off); nothing was written, stepping down`,
      );
    }
    this.keeper.reportFenced(role, refusal.fence);
  }
}
