/**
 * Plan → permit latency from Redis keyspace notifications: a subscriber is told the
 * moment the brain SETs `P:permit:p33:PLAN`, so the measurement is passive (it reads
 * nothing the gate races for) and not limited by a polling interval. It needs
 * `notify-keyspace-events` to include K and $ — the demo enables that on its own
 * private redis-server; on a shared Redis the polling PermitProbe is used instead.
 *
 * The decision itself (allow/deny and reasons) is still recorded by the PermitProbe
 * or the gate; this class only times.
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { Keys } from '../../redis/keys.js';
import type { PlanBook } from './plan-book.js';

export class KeyspacePermitProbe {
  readonly #permitPrefix: string;

  private constructor(
    private readonly subscriber: Redis,
    keys: Keys,
    private readonly book: PlanBook,
  ) {
    const sample = keys.permitP33('x');
    this.#permitPrefix = sample.slice(0, -1);
  }

  /** Enables K$ notifications (CONFIG SET: only on a server the caller owns) and subscribes. */
  static async start(options: {
    admin: Redis;
    subscriber: Redis;
    keys: Keys;
    book: PlanBook;
    db: number;
  }): Promise<KeyspacePermitProbe> {
    await options.admin.config('SET', 'notify-keyspace-events', 'K$');
    const probe = new KeyspacePermitProbe(options.subscriber, options.keys, options.book);
    const pattern = `__keyspace@${options.db}__:${probe.#permitPrefix}*`;
    options.subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => {
      probe.#onNotification(channel, message);
    });
    await options.subscriber.psubscribe(pattern);
    return probe;
  }

  #onNotification(channel: string, message: string): void {
    if (message !== 'set') return;
    const at = channel.indexOf(this.#permitPrefix);
    if (at === -1) return;
    this.book.recordLatency(channel.slice(at + this.#permitPrefix.length), performance.now());
  }

  async stop(): Promise<void> {
    await this.subscriber.punsubscribe().catch(() => undefined);
  }
}
