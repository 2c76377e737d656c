/**
 * Redis connections. One server: `REDIS_URL` (redis://, rediss://, ACL user/password)
 * wins over host/port. Sentinel (SPEC §11): ioredis asks the sentinels for the master
 * and connects only to a server that answers as master. Reconnects forever with a capped
 * backoff; commands issued while Redis is down fail fast instead of queueing, so a
 * service decides (deny, skip a cycle) rather than acting later on data read before the
 * outage — the same during a failover.
 *
 * Following the master: master-switch.ts (`+switch-master`, `READONLY`, and
 * `onMasterSwitch`, which tells a service its connection landed on a different master).
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/config.js';
import { followSwitchMessages, reconnectOnReadOnly } from './master-switch.js';

export { onMasterSwitch, type MasterSwitch } from './master-switch.js';

export interface ConnectOptions {
  /** Name shown in CLIENT LIST. */
  name: string;
  /** Blocking readers (XREADGROUP BLOCK) need their own connection. */
  lazy?: boolean;
}

export function createRedis(config: RedisConfig, options: ConnectOptions): Redis {
  const failFast: RedisOptions = {
    db: config.db,
    connectionName: options.name,
    lazyConnect: options.lazy ?? false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(50 * attempt, 500),
  };
  const sentinel = config.sentinel ?? null;
  if (sentinel === null) {
    return new Redis(config.url, { ...failFast, reconnectOnError: () => false });
  }
  const redis = new Redis({
    ...failFast,
    sentinels: sentinel.sentinels.map(({ host, port }) => ({ host, port })),
    name: sentinel.masterName,
    role: 'master',
    username: sentinel.username,
    password: sentinel.password,
    sentinelPassword: sentinel.sentinelPassword,
    // a sentinel that accepts the connection but never answers (paused, half-dead) must
    // not hold the reconnect: give up on it after 1 s and ask the next one
    sentinelCommandTimeout: 1000,
    failoverDetector: false, // master-switch.ts says why; followSwitchMessages does it
    reconnectOnError: reconnectOnReadOnly,
  });
  followSwitchMessages(redis, sentinel);
  return redis;
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
