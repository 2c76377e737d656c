/**
 * The brain's heartbeat: `P:posguard:brain:heartbeat`, a JSON string re-written every
 * second with a TTL of a few seconds, so its absence means the brain is down.
 */
import type { Redis } from 'ioredis';
import type { Clock } from '../domain/time.js';
import type { Logger } from '../observability/logger.js';
import type { Keys } from '../redis/keys.js';
import { type Scheduler, type Timer, systemScheduler } from '../runtime/clock.js';
import type { BrainMetrics } from './metrics.js';
import { OutageLog } from './outage-log.js';

export const HEARTBEAT_EVERY_MS = 1000;
export const HEARTBEAT_TTL_MS = 5000;

export interface HeartbeatOptions {
  redis: Redis;
  keys: Keys;
  clock: Clock;
  /** Timer of the beat (default: the system's). */
  scheduler?: Scheduler;
  metrics: BrainMetrics;
  logger: Logger;
  /** Extra facts to publish (consumer name, last poll…), read at each beat. */
  facts: () => Record<string, string | number | boolean | null>;
}

export class Heartbeat {
  private timer: Timer | null = null;
  private beating: Promise<void> | null = null;
  private readonly outage: OutageLog;

  constructor(private readonly options: HeartbeatOptions) {
    this.outage = new OutageLog(options.logger, 'brain heartbeat write', () =>
      options.clock.nowMs(),
    );
  }

  start(): void {
    this.beating = this.beat();
    const scheduler = this.options.scheduler ?? systemScheduler;
    this.timer = scheduler.every(HEARTBEAT_EVERY_MS, () => {
      this.beating = this.beat();
    });
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    await this.beating;
  }

  private async beat(): Promise<void> {
    const { redis, keys, clock } = this.options;
    const nowMs = clock.nowMs();
    const value = JSON.stringify({
      ts_epoch: Math.floor(nowMs / 1000),
      ts_ms: nowMs,
      pid: process.pid,
      ...this.options.facts(),
    });
    try {
      await redis.set(keys.brainHeartbeat, value, 'PX', HEARTBEAT_TTL_MS);
      this.outage.ok();
    } catch (error) {
      this.options.metrics.loopErrorsTotal.inc({ component: 'heartbeat' });
      this.outage.failed(error);
    }
  }
}
