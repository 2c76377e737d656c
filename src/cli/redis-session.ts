/**
 * A Redis connection for one CLI command: connect (failing fast with the URL's password
 * redacted), run, always disconnect so the process can exit.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import { PosguardError, errorMessage } from '../errors.js';
import { redactUrl } from '../observability/logger.js';
import { createRedis } from '../redis/connection.js';
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

/**
 * Opens a connection for a one-shot command; rejects with REDIS_UNAVAILABLE (no secrets in
 * the message) on the first connection error or after `timeoutMs`. An operator gets a fast,
 * clear answer instead of a command that retries in silence.
 */
export async function openRedis(
  config: Readonly<Config>,
  name: string,
  timeoutMs = CLI_CONNECT_TIMEOUT_MS,
): Promise<Redis> {
  const redis = createRedis(config.redis, { name });
  redis.on('error', () => undefined); // reported through the rejection below
  try {
    await readyOrFirstError(redis, timeoutMs);
    return redis;
  } catch (error) {
    redis.disconnect();
    throw new PosguardError(
      'REDIS_UNAVAILABLE',
      `cannot reach Redis at ${redactUrl(config.redis.url)} (db ${config.redis.db}): ${errorMessage(error)}`,
    );
  }
}

/** Resolves on 'ready'; rejects on the first 'error' or the timeout; leaves no timer behind. */
export function readyOrFirstError(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const finish = (error?: unknown): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
      if (error === undefined) resolve();
      else reject(error instanceof Error ? error : new Error(errorMessage(error)));
    };
    const onReady = (): void => finish();
    const onError = (error: unknown): void => finish(error);
    const timer = setTimeout(() => finish(new Error(`not ready after ${timeoutMs} ms`)), timeoutMs);
    redis.on('ready', onReady);
    redis.on('error', onError);
  });
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
