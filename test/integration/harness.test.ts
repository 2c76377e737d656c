import { afterAll, describe, expect, it } from 'vitest';
import { openTestRedis } from '../helpers/redis.js';
import { gateConsume } from '../../src/redis/scripts/gate-consume.js';
import { runScript } from '../../src/redis/scripts/script.js';

describe('test harness', () => {
  const t = openTestRedis();
  afterAll(() => t.close());

  it('talks to a private redis-server, not the shared 6379', async () => {
    expect(t.url).not.toMatch(/:6379$/);
    expect(await t.redis.ping()).toBe('PONG');
  });

  it('runs a script after SCRIPT FLUSH (NOSCRIPT fallback)', async () => {
    const consume = () => runScript(t.redis, gateConsume, { keys: t.keys, planId: 'harness-1' });
    expect(await consume()).toEqual({ status: 'missing_permit_or_redis' });
    await t.redis.script('FLUSH');
    expect(await consume()).toEqual({ status: 'missing_permit_or_redis' });
  });
});
