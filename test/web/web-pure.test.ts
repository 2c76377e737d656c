/**
 * The web page's pure parts (no Redis, no browser): settings (loopback unless a token),
 * access (token by header, cookie or URL; loopback Host without one), rows and heartbeats
 * as text, permit markers and counters.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { checkAccess, cookieValue, hostName, withoutToken } from '../../src/web/access.js';
import { heartbeatView } from '../../src/web/desk-rows.js';
import { countDecisions, decodePlanMarker } from '../../src/web/permit-window.js';
import { isLoopbackHost, pageUrl, webSettings } from '../../src/web/settings.js';

const TOKEN = 'a'.repeat(32);

describe('web settings', () => {
  it('defaults to 127.0.0.1:8047 without a token', () => {
    expect(webSettings({ env: {} })).toEqual({
      host: '127.0.0.1',
      port: 8047,
      token: null,
      refreshMs: 1000,
    });
  });

  it('refuses a non-loopback address without POSGUARD_WEB_TOKEN, naming the fix', () => {
    for (const host of ['0.0.0.0', '::', '10.1.2.3', '192.168.1.5']) {
      expect(() => webSettings({ host, env: {} })).toThrow(ConfigError);
      expect(() => webSettings({ host, env: {} })).toThrow(/POSGUARD_WEB_TOKEN/);
    }
    expect(webSettings({ host: '0.0.0.0', env: { POSGUARD_WEB_TOKEN: TOKEN } }).token).toBe(TOKEN);
  });

  it('refuses a short or spaced token and a bad host/port, all at once', () => {
    try {
      webSettings({ host: 'evil host', port: 70000, env: { POSGUARD_WEB_TOKEN: 'short' } });
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(3);
    }
    expect(() => webSettings({ env: { POSGUARD_WEB_TOKEN: 'x'.repeat(20) + ' y' } })).toThrow(
      /printable ASCII/,
    );
  });

  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.3.4.5', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'])
      expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1', ''])
      expect(isLoopbackHost(host), host).toBe(false);
    expect(pageUrl('::1', 8047)).toBe('http://[::1]:8047/');
    expect(pageUrl('0.0.0.0', 9)).toBe('http://127.0.0.1:9/');
  });
});

describe('web access', () => {
  const request = (path: string, headers: Record<string, string> = {}) => ({
    url: new URL(path, 'http://x'),
    headers: { host: '127.0.0.1:8047', ...headers },
  });

  it('without a token: loopback Host names only (DNS-rebinding guard)', () => {
    expect(checkAccess(request('/'), null)).toEqual({ kind: 'allow', via: 'open' });
    for (const host of ['localhost:9000', '[::1]:8047', '127.0.0.1'])
      expect(checkAccess(request('/', { host }), null).kind, host).toBe('allow');
    expect(checkAccess(request('/', { host: 'attacker.example:8047' }), null)).toMatchObject({
      kind: 'deny',
      status: 403,
    });
  });

  it('with a token: header, cookie or ?token=, else 401', () => {
    expect(checkAccess(request('/api/desk'), TOKEN)).toMatchObject({ kind: 'deny', status: 401 });
    expect(checkAccess(request('/api/desk', { authorization: `Bearer ${TOKEN}` }), TOKEN)).toEqual({
      kind: 'allow',
      via: 'header',
    });
    expect(
      checkAccess(request('/', { cookie: `a=b; posguard_web_token=${TOKEN}` }), TOKEN),
    ).toEqual({ kind: 'allow', via: 'cookie' });
    expect(checkAccess(request(`/?token=${TOKEN}`), TOKEN)).toEqual({
      kind: 'allow',
      via: 'query',
    });
    expect(checkAccess(request('/?token=wrong'), TOKEN).kind).toBe('deny');
    expect(checkAccess(request('/', { authorization: `Bearer ${TOKEN}x` }), TOKEN).kind).toBe(
      'deny',
    );
    // With a token, any Host is fine: the token is the guard.
    expect(
      checkAccess(request('/', { host: 'desk.example', authorization: `Bearer ${TOKEN}` }), TOKEN)
        .kind,
    ).toBe('allow');
  });

  it('parses cookies and Host names, and strips the token from a URL', () => {
    expect(cookieValue('x=1; posguard_web_token=abc%20d', 'posguard_web_token')).toBe('abc d');
    expect(cookieValue('x=1', 'posguard_web_token')).toBeNull();
    expect(hostName('[::1]:8047')).toBe('[::1]');
    expect(hostName('localhost')).toBe('localhost');
    expect(withoutToken(new URL('http://x/?token=abc&b=2'))).toBe('/?b=2');
    expect(withoutToken(new URL('http://x/?token=abc'))).toBe('/');
  });
});

describe('heartbeats and permit markers as the page shows them', () => {
  it('reads a heartbeat JSON; markup stays text; garbage is a problem, not a crash', () => {
    expect(heartbeatView(null)).toMatchObject({ present: false });
    expect(
      heartbeatView(JSON.stringify({ ts_ms: 1735680000000, pid: 7, host: '<b>h</b>', x: {} })),
    ).toEqual({
      present: true,
      ts_ms: 1735680000000,
      facts: { pid: '7', host: '<b>h</b>' },
      problem: null,
    });
    expect(heartbeatView('{')).toMatchObject({ present: true, problem: 'not JSON' });
    expect(heartbeatView('[1]')).toMatchObject({ problem: 'not a JSON object' });
  });

  it('decodes the brain’s plan-seen markers', () => {
    expect(decodePlanMarker('allow 1-0', '1-0')).toEqual({ kind: 'allow' });
    expect(decodePlanMarker('deny:stale_exchange_state 1-0', '1-0')).toEqual({
      kind: 'deny',
      reason: 'stale_exchange_state',
    });
    expect(decodePlanMarker('allow 1-0', '2-0')).toEqual({ kind: 'duplicate' });
    expect(decodePlanMarker(null, '1-0')).toEqual({ kind: 'pending' });
    expect(decodePlanMarker('???', '1-0')).toMatchObject({ kind: 'deny' });
  });

  it('counts decisions by reason over the window', () => {
    const plan = (decision: Parameters<typeof countDecisions>[0][number]['decision'], ts = 1) => ({
      entry_id: `${ts}-0`,
      ts_ms: ts,
      plan_id: 'p',
      symbol: 'BTCUSDT',
      action: 'FULL_CLOSE',
      kind: 'execute' as const,
      decision,
    });
    const counts = countDecisions([
      plan({ kind: 'allow' }, 5),
      plan({ kind: 'deny', reason: 'cooldown_in_flight' }, 3),
      plan({ kind: 'deny', reason: 'cooldown_in_flight' }),
      plan({ kind: 'deny', reason: 'reconcile_hold_active' }),
      plan({ kind: 'pending' }),
      { ...plan(null), kind: 'bad' },
    ]);
    expect(counts).toMatchObject({
      plans: 6,
      allow: 1,
      deny: 3,
      deny_by_reason: { cooldown_in_flight: 2, reconcile_hold_active: 1 },
      pending: 1,
      bad: 1,
      oldest_ms: 1,
      newest_ms: 5,
    });
  });
});
