/**
 * The page's server over real HTTP and a real Redis (no browser): the token on every
 * route including the event stream, security headers, read-only methods, the desk and a
 * symbol's history as JSON, and `posguard web` refusing a non-loopback address without a
 * token (built CLI).
 */
import { request } from 'node:http';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { webSettings } from '../../src/web/settings.js';
import { assertBuilt, runCli } from '../cli/run-cli.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';

const TOKEN = 'test-token-0123456789abcdef';
let t: TestRedis;
let server: WebServer | null = null;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request; for an event stream, resolves with the headers and the first chunk. */
function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  const url = new URL(path, server?.url);
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      const done = (): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      res.on('data', (chunk: string) => {
        body += chunk;
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          done();
          req.destroy();
        }
      });
      res.on('end', done);
    });
    req.on('error', reject);
    req.end();
  });
}

async function start(token: string | null): Promise<WebServer> {
  const config = loadConfig({
    REDIS_URL: t.url,
    KEY_PREFIX: t.prefix,
    P34_ALLOWLIST: 'BTCUSDT,ETHUSDT',
    P33_ALLOWLIST: 'BTCUSDT',
  });
  server = await startWebServer({
    settings: webSettings({ port: 0, env: token === null ? {} : { POSGUARD_WEB_TOKEN: token } }),
    redis: config.redis,
    keys: t.keys,
    symbols: ['BTCUSDT', 'ETHUSDT'],
    logger: silentLogger(),
  });
  return server;
}

beforeAll(() => assertBuilt());
beforeEach(() => {
  t = openTestRedis('web');
});
afterEach(async () => {
  await server?.close();
  server = null;
  await t.close();
});

describe('web server: access', () => {
  it('with a token, every route answers 401 without it and 200 with it (event stream too)', async () => {
    await start(TOKEN);
    for (const path of ['/', '/assets/app.js', '/api/desk', '/api/stream', '/api/symbol/BTCUSDT']) {
      const denied = await get(path);
      expect(denied.status, path).toBe(401);
      expect(denied.headers['www-authenticate'], path).toBe('Bearer realm="posguard"');
      const allowed = await get(path, { authorization: `Bearer ${TOKEN}` });
      expect(allowed.status, path).toBe(200);
      const viaCookie = await get(path, { cookie: `posguard_web_token=${TOKEN}` });
      expect(viaCookie.status, path).toBe(200);
    }
    const stream = await get('/api/stream', { authorization: `Bearer ${TOKEN}` });
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.body).toContain('retry: 2000');
    expect(
      (await get('/api/desk', { authorization: 'Bearer wrong-token-0000000000' })).status,
    ).toBe(401);
  });

  it('trades a ?token= page URL for an HttpOnly cookie and a redirect without the token', async () => {
    await start(TOKEN);
    const reply = await get(`/?token=${TOKEN}&x=1`);
    expect(reply.status).toBe(303);
    expect(reply.headers.location).toBe('/?x=1');
    expect(reply.headers['set-cookie']).toEqual([
      `posguard_web_token=${TOKEN}; Path=/; HttpOnly; SameSite=Strict`,
    ]);
    expect((await get(`/api/desk?token=${TOKEN}`)).status).toBe(200);
  });

  it('without a token answers only a loopback Host', async () => {
    await start(null);
    expect((await get('/api/desk')).status).toBe(200);
    expect((await get('/api/desk', { host: 'localhost:1234' })).status).toBe(200);
    expect((await get('/api/desk', { host: 'rebound.example:8047' })).status).toBe(403);
  });

  it('is read-only and sends the security headers on every response', async () => {
    await start(null);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const reply = await get('/api/desk', {}, method);
      expect(reply.status, method).toBe(405);
      expect(reply.headers.allow).toBe('GET, HEAD');
    }
    for (const path of ['/', '/assets/app.js', '/api/desk', '/nope', '/assets/../server.ts']) {
      const reply = await get(path);
      expect(reply.headers['content-security-policy'], path).toContain("script-src 'self'");
      expect(reply.headers['content-security-policy'], path).not.toContain('unsafe-inline');
      expect(reply.headers['x-content-type-options'], path).toBe('nosniff');
      expect(reply.headers['referrer-policy'], path).toBe('no-referrer');
    }
    expect((await get('/assets/../server.ts')).status).toBe(404);
    expect((await get('/assets/app.js')).headers['content-type']).toBe(
      'text/javascript; charset=utf-8',
    );
  });
});

describe('web server: data', () => {
  it('serves the desk and a symbol history as JSON, values as stored', async () => {
    const { redis, keys } = t;
    await redis.hset(keys.snapshot('BTCUSDT'), { position_amt: '-0.5', ts_ms: String(Date.now()) });
    await redis.hset(keys.reconcileState('BTCUSDT'), { status: 'DRIFT', reason: '<b>r</b>' });
    await redis.set(keys.reconcileHeartbeat, JSON.stringify({ ts_ms: Date.now(), pid: 1 }));
    await redis.xadd(
      keys.reconcileEventsStream,
      '*',
      'event',
      'HOLD_SET',
      'symbol',
      'BTCUSDT',
      'reason',
      'x',
    );
    await redis.xadd(
      keys.reconcileEventsStream,
      '*',
      'event',
      'HOLD_SET',
      'symbol',
      'ETHUSDT',
      'reason',
      'y',
    );
    await redis.xadd(
      keys.applyPlanStream,
      '*',
      'plan_id',
      'p1',
      'decision',
      'EXECUTE',
      'symbol',
      'BTCUSDT',
      'action',
      'FULL_CLOSE',
    );
    const [[planEntry]] = [await redis.xrevrange(keys.applyPlanStream, '+', '-', 'COUNT', 1)];
    await redis.set(keys.planSeen('p1'), `deny:cooldown_in_flight ${planEntry?.[0] ?? ''}`);
    await redis.set(
      keys.permitP33('p1'),
      JSON.stringify({ plan_id: 'p1', allow: false, reason: 'cooldown_in_flight' }),
    );
    await start(null);

    const desk = JSON.parse((await get('/api/desk')).body) as {
      redis: { state: string };
      rows: { symbol: string; status: string; reason: string | null; exchange: string | null }[];
      heartbeats: { engine: { present: boolean }; brain: { present: boolean } };
      permits: { deny_by_reason: Record<string, number> };
    };
    expect(desk.redis.state).toBe('up');
    expect(desk.rows.map((r) => [r.symbol, r.status, r.reason, r.exchange])).toEqual([
      ['BTCUSDT', 'DRIFT', '<b>r</b>', '-0.5'],
      ['ETHUSDT', 'NONE', null, null],
    ]);
    expect(desk.heartbeats.engine.present).toBe(true);
    expect(desk.heartbeats.brain.present).toBe(false);
    expect(desk.permits.deny_by_reason).toEqual({ cooldown_in_flight: 1 });

    const history = JSON.parse((await get('/api/symbol/BTCUSDT')).body) as {
      events: { fields: Record<string, string> }[];
      permits: { plan_id: string; decision: unknown; permit: Record<string, string> }[];
    };
    expect(history.events.map((e) => e.fields.reason)).toEqual(['x']);
    expect(history.permits).toHaveLength(1);
    expect(history.permits[0]).toMatchObject({
      plan_id: 'p1',
      decision: { kind: 'deny', reason: 'cooldown_in_flight' },
      permit: { allow: 'false', reason: 'cooldown_in_flight' },
    });
    expect((await get('/api/symbol/SOLUSDT')).status).toBe(404);
    expect((await get('/api/symbol/not-a-symbol')).status).toBe(400);
  });
});

describe('posguard web (built CLI)', () => {
  it('refuses to start on a non-loopback address without POSGUARD_WEB_TOKEN', async () => {
    const run = await runCli(['web', '--host', '0.0.0.0', '--port', '0'], {
      env: { REDIS_URL: t.url, KEY_PREFIX: t.prefix },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/not a loopback address: set POSGUARD_WEB_TOKEN/);
  });
});
