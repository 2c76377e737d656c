/**
 * What "nothing written" compares in the key-type tests: every key under the test's prefix
 * with its DUMP and PEXPIRETIME.
 */
import type { TestRedis } from '../helpers/redis.js';

/** Deletes this test's keys (the run's Redis is shared by parallel files: never FLUSHDB). */
export async function clearKeys(t: TestRedis): Promise<void> {
  const keys = await t.redis.keys(`${t.prefix}:*`);
  if (keys.length > 0) await t.redis.del(...keys);
}

/** DUMP and PEXPIRETIME of every key under the prefix: what "nothing written" compares. */
export async function keyImage(t: TestRedis): Promise<Record<string, string>> {
  const keys = await t.redis.keys(`${t.prefix}:*`);
  const out: Record<string, string> = {};
  for (const key of keys.sort()) {
    const dump = await t.redis.dumpBuffer(key);
    const at = await t.redis.call('PEXPIRETIME', key);
    out[key] = `${dump?.toString('hex') ?? 'nil'} @${String(at)}`;
  }
  return out;
}
