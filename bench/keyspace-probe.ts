/**
 * Observes key writes from a SEPARATE connection through Redis keyspace notifications
 * (`notify-keyspace-events K$`: a `set` event for every string write, Lua writes included).
 * Redis publishes the event when the write executes, so the moment the probe receives it
 * the key is readable by any client; the probe's own overhead is one Redis → probe hop
 * plus event-loop delay, measured by `notificationFloor()` (a bare SET observed the same way).
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';

export interface KeyspaceProbe {
  /** performance.now() of the first `set` seen for `key`, or undefined. */
  seenAt(key: string): number | undefined;
  /** Resolves with performance.now() of the first `set` for `key` (null after `timeoutMs`). */
  waitFor(key: string, timeoutMs: number): Promise<number | null>;
  forget(key: string): void;
  readonly events: number;
  close(): Promise<void>;
}

export async function enableKeyspaceEvents(admin: Redis): Promise<void> {
  await admin.config('SET', 'notify-keyspace-events', 'K$');
}

/** Subscribes `subscriber` (a dedicated connection) to `set` events of keys matching `keyPattern`. */
export async function openKeyspaceProbe(
  subscriber: Redis,
  db: number,
  keyPattern: string,
): Promise<KeyspaceProbe> {
  const channelPrefix = `__keyspace@${db}__:`;
  const seen = new Map<string, number>();
  const waiters = new Map<string, (t: number) => void>();
  let events = 0;
  subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => {
    if (message !== 'set') return;
    const t = performance.now();
    events += 1;
    const key = channel.slice(channelPrefix.length);
    if (seen.has(key)) return;
    seen.set(key, t);
    const waiter = waiters.get(key);
    if (waiter) {
      waiters.delete(key);
      waiter(t);
    }
  });
  await subscriber.psubscribe(`${channelPrefix}${keyPattern}`);
  return {
    seenAt: (key) => seen.get(key),
    waitFor: (key, timeoutMs) =>
      new Promise((resolve) => {
        const already = seen.get(key);
        if (already !== undefined) {
          resolve(already);
          return;
        }
        const timer = setTimeout(() => {
          waiters.delete(key);
          resolve(null);
        }, timeoutMs);
        waiters.set(key, (t) => {
          clearTimeout(timer);
          resolve(t);
        });
      }),
    forget: (key) => {
      seen.delete(key);
    },
    get events() {
      return events;
    },
    close: async () => {
      await subscriber.punsubscribe();
      subscriber.disconnect();
    },
  };
}
