/**
 * Per-test Redis access: the run's private server, a unique key prefix per test so
 * files run in parallel without seeing each other's keys.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { buildKeys, type Keys } from '../../src/redis/keys.js';

export function testRedisUrl(): string {
  return inject('redisUrl');
}

export function uniquePrefix(label = 't'): string {
  return `${label}${randomBytes(5).toString('hex')}`;
}

export interface TestRedis {
  redis: Redis;
  url: string;
  prefix: string;
  keys: Keys;
  close(): Promise<void>;
}

/** A connection to the run's Redis and a fresh key prefix. Close it in afterEach/afterAll. */
export function openTestRedis(label?: string): TestRedis {
  const url = testRedisUrl();
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const prefix = uniquePrefix(label);
  return {
    redis,
    url,
    prefix,
    keys: buildKeys(prefix),
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
