import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVenue, type Venue } from '../../src/dev/venue/venue.js';
import { freePort, startEmbeddedRedis, type EmbeddedRedis } from '../../src/dev/redis-server.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { assertBuilt, runCli } from './run-cli.js';

const API_SECRET = 'doctorSecretValue9f2c';
const API_KEY = 'doctorApiKeyValue41aa';
const REDIS_PASSWORD = 'redisPassw0rdXq7';

interface Check {
  name: string;
  level: string;
  message: string;
}

let t: TestRedis;
let venue: Venue;
let skewedVenues: Venue[] = [];
let secured: EmbeddedRedis;

beforeAll(async () => {
  assertBuilt();
  t = openTestRedis('doctor');
  venue = await startVenue({ apiKey: API_KEY, apiSecret: API_SECRET });
  secured = await startEmbeddedRedis({
    args: ['--requirepass', REDIS_PASSWORD],
    password: REDIS_PASSWORD,
  });
});
afterAll(async () => {
  await t.close();
  await venue.close();
  for (const v of skewedVenues) await v.close();
  await secured.stop();
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: t.url,
    KEY_PREFIX: t.prefix,
    BINANCE_BASE_URL: venue.baseUrl,
    BINANCE_API_KEY: API_KEY,
    BINANCE_API_SECRET: API_SECRET,
    ...extra,
  };
}

async function doctor(
  extra: Record<string, string>,
): Promise<{ code: number | null; checks: Check[]; all: string }> {
  const run = await runCli(['doctor', '--json'], { env: env(extra) });
  const text = await runCli(['doctor'], { env: env(extra) });
  expect(text.code).toBe(run.code);
  const all = run.stdout + run.stderr + text.stdout + text.stderr;
  expect(all).not.toContain(API_SECRET);
  expect(all).not.toContain(API_KEY);
  expect(all).not.toContain(REDIS_PASSWORD);
  return { code: run.code, checks: (JSON.parse(run.stdout) as { checks: Check[] }).checks, all };
}

const level = (checks: Check[], name: string): string | undefined =>
  checks.find((c) => c.name === name)?.level;

describe('posguard doctor', () => {
  it('PASS against the test Redis and the simulated venue; heartbeats read; secrets shown as set', async () => {
    await t.redis.set(
      t.keys.reconcileHeartbeat,
      JSON.stringify({ ts_ms: Date.now(), cycle: 3 }),
      'PX',
      5000,
    );
    const { code, checks, all } = await doctor({});
    expect(code).toBe(0);
    expect(checks.filter((c) => c.level === 'FAIL')).toEqual([]);
    for (const name of [
      'config',
      'redis',
      'redis version',
      'redis round trip',
      'clock vs redis',
      'key prefix',
      'reconcile heartbeat',
      'exchange',
      'clock vs exchange',
      'api key',
      'api secret',
    ]) {
      expect([name, level(checks, name)]).toEqual([name, 'PASS']);
    }
    expect(level(checks, 'brain heartbeat')).toBe('WARN'); // no brain running in this test
    expect(checks.find((c) => c.name === 'api secret')?.message).toBe('BINANCE_API_SECRET set');
    expect(all).toMatch(/doctor: ok/);
  });

  it('a password in REDIS_URL is redacted and never printed', async () => {
    const { code, checks } = await doctor({
      REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:${secured.port}`,
    });
    expect(code).toBe(0);
    expect(checks.find((c) => c.name === 'redis')?.message).toContain('redis://:***@127.0.0.1');
    const wrong = await doctor({
      REDIS_URL: `redis://:not-${REDIS_PASSWORD}@127.0.0.1:${secured.port}`,
    });
    expect(wrong.code).toBe(1);
    expect(level(wrong.checks, 'redis')).toBe('FAIL');
  });

  it('FAIL and exit 1 against an unreachable Redis port', async () => {
    const port = await freePort();
    const { code, checks } = await doctor({
      REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:${port}`,
    });
    expect(code).toBe(1);
    expect(checks.find((c) => c.name === 'redis')).toMatchObject({ level: 'FAIL' });
    expect(checks.find((c) => c.name === 'redis')?.message).toMatch(
      /cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1/,
    );
    expect(level(checks, 'exchange')).toBe('PASS');
  });

  it('clock skew against the exchange: WARN above 500 ms, FAIL above 5 s', async () => {
    const ahead = (ms: number) =>
      startVenue({
        apiKey: API_KEY,
        apiSecret: API_SECRET,
        clock: { nowMs: () => Date.now() + ms },
      });
    const warnVenue = await ahead(2000);
    const failVenue = await ahead(9000);
    skewedVenues = [warnVenue, failVenue];
    const warn = await doctor({ BINANCE_BASE_URL: warnVenue.baseUrl });
    expect(warn.code).toBe(0);
    expect(level(warn.checks, 'clock vs exchange')).toBe('WARN');
    const fail = await doctor({ BINANCE_BASE_URL: failVenue.baseUrl });
    expect(fail.code).toBe(1);
    expect(level(fail.checks, 'clock vs exchange')).toBe('FAIL');
  });

  it('an unreachable exchange FAILs; missing credentials WARN as "missing"', async () => {
    const port = await freePort();
    const run = await runCli(['doctor', '--json'], {
      env: { REDIS_URL: t.url, KEY_PREFIX: t.prefix, BINANCE_BASE_URL: `http://127.0.0.1:${port}` },
    });
    expect(run.code).toBe(1);
    const checks = (JSON.parse(run.stdout) as { checks: Check[] }).checks;
    expect(level(checks, 'exchange')).toBe('FAIL');
    expect(checks.find((c) => c.name === 'api key')).toMatchObject({
      level: 'WARN',
      message: expect.stringMatching(/BINANCE_API_KEY missing/) as unknown,
    });
  });

  it('the user-data stream base: the private base passes; a retired one WARNs when the stream is on', async () => {
    const env = { REDIS_URL: t.url, KEY_PREFIX: t.prefix, BINANCE_BASE_URL: venue.baseUrl };
    const good = await doctor({ ...env, BINANCE_ENV: 'production', P33_USER_STREAM: 'true' });
    expect(good.checks.find((c) => c.name === 'user-data stream')).toMatchObject({
      level: 'PASS',
      message: expect.stringContaining('wss://fstream.binance.com/private') as unknown,
    });
    const retired = await doctor({
      ...env,
      BINANCE_WS_URL: 'wss://fstream.binance.com/ws',
      P33_USER_STREAM: 'true',
    });
    expect(level(retired.checks, 'user-data stream')).toBe('WARN');
    const off = await doctor({ ...env, BINANCE_WS_URL: 'wss://fstream.binance.com/ws' });
    expect(level(off.checks, 'user-data stream')).toBe('PASS');
  });

  it('reports every configuration problem at once and exits 1', async () => {
    const run = await runCli(['doctor', '--json'], {
      env: {
        REDIS_URL: t.url,
        P33_POLL_SEC: 'fast',
        REDIS_DB: '99',
        BINANCE_API_SECRET: API_SECRET,
      },
    });
    expect(run.code).toBe(1);
    const checks = (JSON.parse(run.stdout) as { checks: Check[] }).checks;
    const config = checks.filter((c) => c.name === 'config');
    expect(config.map((c) => c.level)).toEqual(['FAIL', 'FAIL']);
    expect(config.map((c) => c.message).join('\n')).toMatch(
      /P33_POLL_SEC[\s\S]*REDIS_DB|REDIS_DB[\s\S]*P33_POLL_SEC/,
    );
    expect(run.stdout).not.toContain(API_SECRET);
  });
});
