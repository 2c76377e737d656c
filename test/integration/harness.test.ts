import { afterAll, describe, expect, it } from 'vitest';
import { openTestRedis } from '../helpers/redis.js';
import { LuaScript } from '../../src/redis/lua-script.js';

describe('test harness', () => {
  const t = openTestRedis();
  afterAll(() => t.close());

  it('talks to a private redis-server, not the shared 6379', async () => {
    expect(t.url).not.toMatch(/:6379$/);
    expect(await t.redis.ping()).toBe('PONG');
  });

  it('runs a script after SCRIPT FLUSH (NOSCRIPT fallback)', async () => {
    const script = new LuaScript('echo', 'return ARGV[1] .. KEYS[1]');
    expect(await script.run(t.redis, ['k'], ['v'])).toBe('vk');
    await t.redis.script('FLUSH');
    expect(await script.run(t.redis, ['k2'], ['v2'])).toBe('v2k2');
  });
});
