/**
 * Per-test Redis access: the run's private server, a unique key prefix per test so
 * files run in parallel without seeing each other's keys.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { buildKeys, type Keys } from '../../src/redis/keys.js';

/** The run's redis-server (started by global-setup.ts for the integration and deploy projects). */
export function testRedisUrl(): string {
  const url = inject('redisUrl') as string | undefined;
  if (url === undefined) {
    throw new Error(
      'this test needs Redis, but its project starts none: it belongs to the integration project, ' +
        'not to the unit list in vitest.config.ts',
    );
  }
  return url;
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
