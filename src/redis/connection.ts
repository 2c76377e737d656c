/**
 * Redis connections. `REDIS_URL` (redis://, rediss://, ACL user/password) wins over
 * host/port. Reconnects forever with a capped backoff; commands issued while Redis is
 * down fail fast instead of queueing, so a service decides (deny, skip a cycle) rather
 * than acting later on data read before the outage.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/config.js';

export interface ConnectOptions {
  /** Name shown in CLIENT LIST. */
  name: string;
  /** Blocking readers (XREADGROUP BLOCK) need their own connection. */
  lazy?: boolean;
}

export function createRedis(config: RedisConfig, options: ConnectOptions): Redis {
  const redisOptions: RedisOptions = {
    db: config.db,
    connectionName: options.name,
    lazyConnect: options.lazy ?? false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(50 * attempt, 500),
    reconnectOnError: () => false,
  };
  return new Redis(config.url, redisOptions);
}

/** Waits until the connection is ready (or rejects after `timeoutMs`). */
export async function waitForReady(redis: Redis, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return;
  if (redis.status === 'wait') await redis.connect();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    if (redis.status === 'ready') onReady();
    else redis.on('ready', onReady);
  });
}
