/**
 * Lease keepers under test: each on its own manual clock (they stand for different hosts),
 * with every callback recorded together with the keeper's clock at that moment.
 */
import type { Redis } from 'ioredis';
import type { LeaderRole } from '../../src/domain/leadership.js';
import type { Keys } from '../../src/redis/keys.js';
import { LeaseKeeper, type LostReason } from '../../src/redis/ha/lease-keeper.js';
import type { InstancePresence } from '../../src/redis/ha/presence.js';
import { ManualClock } from '../helpers/manual-time.js';
import { waitFor } from '../helpers/wait.js';

export type KeeperEvent =
  | { kind: 'elected'; role: LeaderRole; epoch: number; atMs: number }
  | { kind: 'lost'; role: LeaderRole; reason: LostReason; epoch: number; atMs: number }
  | {
      kind: 'error';
      role: LeaderRole | null;
      code: string | undefined;
      message: string;
      atMs: number;
    };

export interface TestKeeper {
  id: string;
  clock: ManualClock;
  keeper: LeaseKeeper;
  events: KeeperEvent[];
  elected(): Extract<KeeperEvent, { kind: 'elected' }>[];
  lost(): Extract<KeeperEvent, { kind: 'lost' }>[];
  errors(): Extract<KeeperEvent, { kind: 'error' }>[];
}

export interface TestKeeperOptions {
  redis: Redis;
  keys: Keys;
  id: string;
  leaseMs: number;
  roles?: LeaderRole[];
  startMs?: number;
  presence?: (clock: ManualClock) => InstancePresence;
  /** Make the callbacks throw (a service bug), to see the keeper go on. */
  throwingCallbacks?: boolean;
}

export function testKeeper(o: TestKeeperOptions): TestKeeper {
  const clock = new ManualClock(o.startMs ?? 1_000_000);
  const events: KeeperEvent[] = [];
  const boom = (): void => {
    if (o.throwingCallbacks) throw new Error('callback bug');
  };
  const keeper = new LeaseKeeper({
    redis: o.redis,
    keys: o.keys,
    instanceId: o.id,
    roles: o.roles ?? ['reconcile'],
    leaseMs: o.leaseMs,
    clock,
    scheduler: clock,
    ...(o.presence ? { presence: o.presence(clock) } : {}),
    events: {
      onElected: (role, epoch) => {
        events.push({ kind: 'elected', role, epoch, atMs: clock.ms });
        boom();
      },
      onLost: (role, reason, epoch) => {
        events.push({ kind: 'lost', role, reason, epoch, atMs: clock.ms });
        boom();
      },
      onError: (error, role) => {
        const code = (error as { code?: string }).code;
        events.push({ kind: 'error', role, code, message: error.message, atMs: clock.ms });
      },
    },
  });
  const of = <K extends KeeperEvent['kind']>(kind: K) =>
    events.filter((e): e is Extract<KeeperEvent, { kind: K }> => e.kind === kind);
  return {
    id: o.id,
    clock,
    keeper,
    events,
    elected: () => of('elected'),
    lost: () => of('lost'),
    errors: () => of('error'),
  };
}

/** Waits until the keeper's loop (or a request race) has a timer waiting; returns the soonest. */
export async function nextTimer(clock: ManualClock): Promise<number> {
  return waitFor(() => clock.pending()[0] ?? null, 5_000, 1);
}
