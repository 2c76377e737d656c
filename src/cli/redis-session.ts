/**
 * A Redis connection for one CLI command: connect (failing fast with the URL's password
 * redacted), run, always disconnect so the process can exit.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import { PosguardError, errorMessage } from '../errors.js';
import { redactUrl } from '../observability/logger.js';
import { createRedis, waitForReady } from '../redis/connection.js';
import { type Keys, buildKeys } from '../redis/keys.js';

export const CLI_CONNECT_TIMEOUT_MS = 3000;

export interface Session {
  redis: Redis;
  keys: Keys;
  config: Readonly<Config>;
}

export function keysFor(config: Readonly<Config>): Keys {
  return buildKeys(config.keys.prefix, config.keys.governorPermitTemplate);
}

/** Opens a connection; rejects with REDIS_UNAVAILABLE (no secrets in the message). */
export async function openRedis(
  config: Readonly<Config>,
  name: string,
  timeoutMs = CLI_CONNECT_TIMEOUT_MS,
): Promise<Redis> {
  const redis = createRedis(config.redis, { name });
  let lastError = '';
  redis.on('error', (error: unknown) => {
    lastError = errorMessage(error);
  });
  try {
    await waitForReady(redis, timeoutMs);
    return redis;
  } catch (error) {
    redis.disconnect();
    throw new PosguardError(
      'REDIS_UNAVAILABLE',
      `cannot reach Redis at ${redactUrl(config.redis.url)} (db ${config.redis.db}): ${lastError || errorMessage(error)}`,
    );
  }
}

export async function closeRedis(redis: Redis): Promise<void> {
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}

export async function withSession<T>(
  config: Readonly<Config>,
  fn: (session: Session) => Promise<T>,
): Promise<T> {
  const redis = await openRedis(config, 'posguard-cli');
  try {
    return await fn({ redis, keys: keysFor(config), config });
  } finally {
    await closeRedis(redis);
  }
}
