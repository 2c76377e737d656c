/**
 * The machine's own floor, measured in the same run: the Redis round trip (PING through
 * an ioredis client, sequential) and the smallest write → observed latency the keyspace
 * probe can report (a bare SET from one client seen on the probe's connection).
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { KeyspaceProbe } from './keyspace-probe.js';
import { type Summary, summarize } from './stats.js';

/** Sequential PINGs; milliseconds per round trip. */
export async function pingRtt(redis: Redis, count: number, warmup = 200): Promise<Summary> {
  for (let i = 0; i < warmup; i += 1) await redis.ping();
  const samples: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const t0 = performance.now();
    await redis.ping();
    samples.push(performance.now() - t0);
  }
  return summarize(samples)!;
}

/** A bare SET observed through the probe: the measuring method's own floor (ms). */
export async function notificationFloor(
  writer: Redis,
  probe: KeyspaceProbe,
  keyPrefix: string,
  count: number,
): Promise<Summary> {
  const samples: number[] = [];
  for (let i = 0; i < count + 50; i += 1) {
    const key = `${keyPrefix}${i}`;
    const t0 = performance.now();
    const seen = probe.waitFor(key, 2000);
    await writer.set(key, '1', 'PX', 60_000);
    const t1 = await seen;
    probe.forget(key);
    if (t1 !== null && i >= 50) samples.push(t1 - t0);
  }
  return summarize(samples)!;
}
