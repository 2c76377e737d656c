/**
 * The brain's heartbeat: `P:posguard:brain:heartbeat`, a JSON string re-written every
 * second with a TTL of a few seconds, so its absence means the brain is down.
 */
import type { Redis } from 'ioredis';
import type { Clock } from '../domain/time.js';
import type { Logger } from '../observability/logger.js';
import type { Keys } from '../redis/keys.js';
import type { BrainMetrics } from './metrics.js';
import { OutageLog } from './outage-log.js';

export const HEARTBEAT_EVERY_MS = 1000;
export const HEARTBEAT_TTL_MS = 5000;

export interface HeartbeatOptions {
  redis: Redis;
  keys: Keys;
  clock: Clock;
  metrics: BrainMetrics;
  logger: Logger;
  /** Extra facts to publish (consumer name, last poll…), read at each beat. */
  facts: () => Record<string, string | number | boolean | null>;
}

export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private readonly outage: OutageLog;

  constructor(private readonly options: HeartbeatOptions) {
    this.outage = new OutageLog(options.logger, 'brain heartbeat write', () =>
      options.clock.nowMs(),
    );
  }

  start(): void {
    this.beating = this.beat();
    this.timer = setInterval(() => {
      this.beating = this.beat();
    }, HEARTBEAT_EVERY_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
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
