/**
 * The presence record of one running instance (SPEC §11): `P:posguard:instance:<service>:<id>`,
 * JSON (src/domain/presence.ts), with a short TTL so a dead instance disappears by itself.
 * `LeaseKeeper` rewrites it after every round (every lease/3) and deletes it on stop.
 */
import type { Redis } from 'ioredis';
import type { LeaderRole } from '../../domain/leadership.js';
import { encodePresence, presenceRecord, type Leadership } from '../../domain/presence.js';
import { PosguardError } from '../../errors.js';
import type { Keys } from '../keys.js';

export interface InstancePresenceOptions {
  redis: Redis;
  keys: Keys;
  /** `brain`, `reconcile`, … */
  service: string;
  instanceId: string;
  /** The roles this instance campaigns for. */
  roles: readonly LeaderRole[];
  version: string;
  startedMs: number;
  /** Record TTL; pass 3 × the lease so a late refresh or two does not hide the instance. */
  ttlMs: number;
}

export class InstancePresence {
  readonly key: string;

  constructor(private readonly options: InstancePresenceOptions) {
    this.key = options.keys.instance(options.service, options.instanceId);
    if (!Number.isSafeInteger(options.ttlMs) || options.ttlMs < 1) {
      throw new PosguardError(
        'USAGE',
        `presence TTL ${options.ttlMs} ms is not a positive integer`,
      );
    }
  }

  /** Writes the record with what this instance leads now. */
  async write(leaderOf: readonly Leadership[]): Promise<void> {
    const o = this.options;
    const record = presenceRecord(
      {
        service: o.service,
        id: o.instanceId,
        roles: o.roles,
        version: o.version,
        started_ms: o.startedMs,
      },
      leaderOf,
    );
    await o.redis.set(this.key, encodePresence(record), 'PX', o.ttlMs);
  }

  async remove(): Promise<void> {
    await this.options.redis.del(this.key);
  }
}
