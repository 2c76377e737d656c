/**
 * The status page in a real browser (Debian's chromium through playwright-core) against a
 * real redis-server of its own (so a keyspace DUMP covers everything, and it can be killed
 * and restarted). Skipped, with a message, only where chromium is absent.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { silentLogger } from '../../src/observability/logger.js';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/dev/redis-server.js';
import type { Leadership } from '../../src/domain/presence.js';
import { InstancePresence } from '../../src/redis/ha/presence.js';
import { type Keys, buildKeys } from '../../src/redis/keys.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { webSettings } from '../../src/web/settings.js';
import { uniquePrefix } from '../helpers/redis.js';
import { cell, chromiumMissing, launchChromium, openPage } from './browser.js';
import {
  SCREENSHOT_DESK,
  type SymbolFixture,
  addAnsweredPlan,
  addEvent,
  seedHeartbeats,
  seedSymbols,
} from './desk-fixture.js';
import { keyspaceDump, watchCommands } from './keyspace.js';

const XSS = '<img src=x onerror=alert(1)>';
const TOKEN = 'browser-token-0123456789abcdef';
const SCREENSHOT = join(import.meta.dirname, '..', '..', 'docs', 'web-status.png');

let redisServer: EmbeddedRedis;
let admin: Redis;
let browser: Browser;
let web: WebServer | null = null;

interface Desk {
  keys: Keys;
  url: string;
}

async function startDesk(
  symbols: readonly string[],
  options: { token?: string; refreshMs?: number } = {},
): Promise<Desk> {
  const keys = buildKeys(uniquePrefix('wb'));
  const config = loadConfig({ REDIS_URL: redisServer.url, KEY_PREFIX: keys.prefix });
  web = await startWebServer({
    settings: webSettings({
      port: 0,
      refreshMs: options.refreshMs ?? 200,
      env: options.token === undefined ? {} : { POSGUARD_WEB_TOKEN: options.token },
    }),
    redis: config.redis,
    keys,
    symbols,
    logger: silentLogger(),
  });
  return { keys, url: web.url };
}

/** A presence record as the services write it (src/redis/ha/presence.ts), started 1h02m05s ago. */
async function writePresence(
  keys: Keys,
  id: string,
  version: string,
  leaderOf: Leadership[] = [],
): Promise<void> {
  await new InstancePresence({
    redis: admin,
    keys,
    service: 'reconcile',
    instanceId: id,
    roles: ['reconcile'],
    version,
    startedMs: Date.now() - 3_725_000,
    ttlMs: 60_000,
  }).write(leaderOf);
}

/** A bounded wait for a condition in the page (no sleep-then-assert). */
const poll = <T>(read: () => Promise<T> | T) =>
  expect.poll(read, { timeout: 15_000, interval: 50 });

const fixtures = (n: number): SymbolFixture[] =>
  Array.from({ length: n }, (_, i) => ({
    symbol: `S${String(i).padStart(4, '0')}USDT`,
    exchange: String(i),
    ledger: String(i),
    status: 'OK' as const,
    reason: '',
  }));

describe.skipIf(chromiumMissing !== null)('web page in chromium', () => {
  beforeAll(async () => {
    redisServer = await startEmbeddedRedis();
    admin = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    admin?.disconnect();
    await redisServer?.stop();
  });

  afterEach(async () => {
    await web?.close();
    web = null;
  });

  it('lists the symbols of a real Redis, coloured by status', async () => {
    const symbols = SCREENSHOT_DESK.slice(0, 5);
    const desk = await startDesk(symbols.map((s) => s.symbol));
    await seedSymbols(admin, desk.keys, symbols);
    // Instances as SPEC §11 names them: a leader (lease, epoch, fence and its presence
    // record), and a record that is not JSON — listed with its problem.
    await writePresence(desk.keys, 'desk-1:4242', 'v0.2.0', [{ role: 'reconcile', epoch: 7 }]);
    await admin.set(desk.keys.lease('reconcile'), 'desk-1:4242', 'PX', 60_000);
    await admin.set(desk.keys.epoch('reconcile'), '7');
    await admin.set(desk.keys.fence('reconcile'), '7');
    await admin.set(desk.keys.instance('brain', 'desk-2:77'), 'not json', 'PX', 60_000);
    const { page, errors } = await openPage(browser);
    await page.goto(desk.url);
    await poll(() => page.locator('#desk-rows tr').count()).toBe(5);
    await poll(() => page.locator('#instance-rows tr').count()).toBe(2);
    const rows = page.locator('#instance-rows tr');
    expect(await rows.nth(0).locator('td').allTextContents()).toEqual([
      'brain',
      'desk-2:77',
      '',
      '',
      '',
      '',
      expect.stringMatching(/^\d+s$/) as unknown as string,
      'not JSON',
    ]);
    expect(await rows.nth(1).locator('td').allTextContents()).toEqual([
      'reconcile',
      'desk-1:4242',
      'v0.2.0',
      'reconcile',
      'reconcile@7',
      expect.stringMatching(/^62m0\ds$/) as unknown as string, // up since 1h02m05s
      expect.stringMatching(/^\d+s$/) as unknown as string,
      '',
    ]);
    const leaders = await page.locator('#leaders span').allTextContents();
    expect(leaders[0]).toMatch(/^reconcile: leader desk-1:4242 @7, lease \d+s left$/);
    expect(leaders[1]).toBe('brain-poller: no leader');
    expect(await cell(page, 'SOLUSDT', 'exchange').textContent()).toBe('12');
    expect(await cell(page, 'SOLUSDT', 'ledger').textContent()).toBe('9');
    expect(await cell(page, 'SOLUSDT', 'diff').textContent()).toBe('3');
    expect(await cell(page, 'SOLUSDT', 'status').textContent()).toBe('HOLD');
    expect(await cell(page, 'SOLUSDT', 'hold').textContent()).toBe('p34');
    expect(await cell(page, 'XRPUSDT', 'hold').textContent()).toBe('operator');
    expect(await cell(page, 'BNBUSDT', 'reason').textContent()).toBe('awaiting_snapshot');
    expect(await page.locator('#desk-rows tr[data-symbol="BNBUSDT"]').getAttribute('class')).toBe(
      'st-DRIFT',
    );
    // Problems first: the held symbol leads, the OK ones follow.
    expect(await page.locator('#desk-rows tr').first().getAttribute('data-symbol')).toBe('SOLUSDT');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows a hold written with SETEX without a reload', async () => {
    const desk = await startDesk(['BTCUSDT', 'ETHUSDT']);
    await seedSymbols(admin, desk.keys, SCREENSHOT_DESK.slice(0, 2));
    const { page } = await openPage(browser);
    await page.goto(desk.url);
    await poll(() => cell(page, 'ETHUSDT', 'status').textContent()).toBe('OK');
    expect(await page.locator('#instances').isHidden()).toBe(true); // no instance records
    await page.evaluate(() => Object.assign(globalThis, { sameDocument: true }));
    expect(await cell(page, 'ETHUSDT', 'hold').textContent()).toBe('');
    await admin.setex(desk.keys.hold('ETHUSDT'), 3600, '1');
    await poll(() => cell(page, 'ETHUSDT', 'hold').textContent()).toBe('operator');
    expect(await cell(page, 'ETHUSDT', 'ttl').textContent()).toMatch(/^(59m|1h00m)/);
    expect(await page.evaluate(() => 'sameDocument' in globalThis)).toBe(true);
    await page.close();
  });

  it('shows markup from Redis literally and runs nothing', async () => {
    const desk = await startDesk(['BTCUSDT']);
    await seedSymbols(admin, desk.keys, [
      { symbol: 'BTCUSDT', exchange: '1', ledger: '1', status: 'HOLD', reason: XSS, hold: 'p34' },
    ]);
    await addEvent(admin, desk.keys, { event: 'HOLD_SET', symbol: 'BTCUSDT', reason: XSS });
    await admin.set(desk.keys.brainHeartbeat, JSON.stringify({ ts_ms: Date.now(), host: XSS }));
    await writePresence(desk.keys, 'desk-3:1', XSS);
    const { page, dialogs, errors } = await openPage(browser);
    await page.goto(desk.url);
    await poll(() => page.locator('#instance-rows td').nth(2).textContent()).toBe(XSS);
    // From the backlog, from the table, and live after the page loaded.
    await poll(() => page.locator('#events .ev-reason').first().textContent()).toBe(XSS);
    expect(await cell(page, 'BTCUSDT', 'reason').textContent()).toBe(XSS);
    await addEvent(admin, desk.keys, {
      event: 'MANUAL_HOLD_SET',
      symbol: '<script>alert(2)</script>',
      reason: XSS,
    });
    await poll(() => page.locator('#events .ev-symbol').first().textContent()).toBe(
      '<script>alert(2)</script>',
    );
    await page.locator('#desk-rows tr[data-symbol="BTCUSDT"]').click();
    await poll(() => page.locator('#history-events .ev-reason').first().textContent()).toBe(XSS);
    // A later event proves the page kept running after the markup arrived.
    await addEvent(admin, desk.keys, { event: 'HOLD_CLEARED', symbol: 'BTCUSDT', reason: 'done' });
    await poll(() => page.locator('#events .ev-reason').first().textContent()).toBe('done');
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(1); // the page's own module
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('renders 550 symbols', async () => {
    const symbols = fixtures(550);
    symbols[137] = { ...symbols[137]!, status: 'DRIFT', reason: 'awaiting_snapshot', ledger: '0' };
    const desk = await startDesk(symbols.map((s) => s.symbol));
    await seedSymbols(admin, desk.keys, symbols);
    const { page, errors } = await openPage(browser);
    await page.goto(desk.url);
    await poll(() => page.locator('#desk-rows tr').count()).toBe(550);
    await poll(() => page.locator('#shown').textContent()).toBe('550 of 550 symbols');
    expect(await cell(page, 'S0137USDT', 'diff').textContent()).toBe('137');
    expect(await page.locator('#desk-rows tr').first().getAttribute('data-symbol')).toBe(
      'S0137USDT',
    );
    expect(await cell(page, 'S0549USDT', 'exchange').textContent()).toBe('549');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('with a token: 401 without it; with ?token= the page, its assets and its event stream work', async () => {
    const desk = await startDesk(['BTCUSDT'], { token: TOKEN });
    await seedSymbols(admin, desk.keys, SCREENSHOT_DESK.slice(0, 1));
    const bare = await openPage(browser);
    const denied = await bare.page.goto(desk.url);
    expect(denied?.status()).toBe(401);
    expect(await bare.page.locator('body').textContent()).toMatch(/a token is required/);
    await bare.page.close();
    const { page, errors } = await openPage(browser);
    const allowed = await page.goto(`${desk.url}?token=${TOKEN}`);
    expect(allowed?.status()).toBe(200);
    expect(page.url()).toBe(desk.url); // the token left the address bar
    await poll(() => cell(page, 'BTCUSDT', 'exchange').textContent()).toBe('0.038');
    await addEvent(admin, desk.keys, { event: 'HOLD_SET', symbol: 'BTCUSDT', reason: 'live' });
    await poll(() => page.locator('#events .ev-reason').first().textContent()).toBe('live');
    expect(await page.evaluate('document.cookie')).toBe(''); // HttpOnly: no script sees it
    const stream = await fetch(new URL('/api/stream', desk.url));
    expect(stream.status).toBe(401);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('says Redis is down and recovers by itself when it returns', async () => {
    const desk = await startDesk(['BTCUSDT', 'ETHUSDT']);
    await seedSymbols(admin, desk.keys, SCREENSHOT_DESK.slice(0, 2));
    const { page } = await openPage(browser);
    await page.goto(desk.url);
    await poll(() => cell(page, 'BTCUSDT', 'status').textContent()).toBe('OK');
    await page.evaluate(() => Object.assign(globalThis, { sameDocument: true }));
    await redisServer.kill();
    await poll(() => page.locator('#banner').textContent()).toMatch(
      /^Redis is down or unreachable since/,
    );
    expect(await page.locator('#desk').getAttribute('class')).toBe('stale');
    await redisServer.restart(); // empty: no persistence
    await seedSymbols(admin, desk.keys, [
      {
        symbol: 'BTCUSDT',
        exchange: '0.5',
        ledger: '0.4',
        status: 'DRIFT',
        reason: 'awaiting_snapshot',
      },
    ]);
    await poll(() => cell(page, 'BTCUSDT', 'status').textContent()).toBe('DRIFT');
    expect(await page.locator('#banner').isHidden()).toBe(true);
    expect(await cell(page, 'ETHUSDT', 'exchange').textContent()).toBe('missing');
    await addEvent(admin, desk.keys, { event: 'HOLD_SET', symbol: 'BTCUSDT', reason: 'after' });
    await poll(() => page.locator('#events .ev-reason').first().textContent()).toBe('after');
    expect(await page.evaluate(() => 'sameDocument' in globalThis)).toBe(true);
    await page.close();
  }, 60_000);

  it('changes nothing in Redis: keyspace identical after browsing every route', async () => {
    const desk = await startDesk(SCREENSHOT_DESK.map((s) => s.symbol));
    await seedSymbols(admin, desk.keys, SCREENSHOT_DESK);
    await seedHeartbeats(admin, desk.keys);
    await addEvent(admin, desk.keys, {
      event: 'HOLD_SET',
      symbol: 'SOLUSDT',
      reason: 'qty_mismatch_no_evidence',
    });
    await addAnsweredPlan(admin, desk.keys, {
      id: 'p-1',
      symbol: 'SOLUSDT',
      action: 'FULL_CLOSE',
      allow: false,
      reason: 'reconcile_hold_active',
    });
    const before = await keyspaceDump(admin);
    const watch = await watchCommands(admin);
    const { page } = await openPage(browser);
    await page.goto(desk.url);
    await poll(() => page.locator('#desk-rows tr').count()).toBe(SCREENSHOT_DESK.length);
    for (const symbol of ['SOLUSDT', 'BTCUSDT', 'LTCUSDT']) {
      await page.locator(`#desk-rows tr[data-symbol="${symbol}"]`).click();
      await poll(() => page.locator('#history-symbol').textContent()).toBe(symbol);
    }
    await page.fill('#filter', 'USDT');
    await page.check('#problems-only');
    for (const path of ['/', '/assets/app.js', '/api/desk', '/api/symbol/SOLUSDT', '/api/stream']) {
      for (const method of ['HEAD', 'POST', 'PUT', 'DELETE', 'PATCH']) {
        const res = await fetch(new URL(path, desk.url), { method });
        await res.body?.cancel();
      }
    }
    // Several desk reads by the page's server while the page is open.
    await poll(() => watch.count('get', desk.keys.reconcileHeartbeat)).toBeGreaterThan(3);
    await page.close();
    const seen = await watch.stop();
    expect(await keyspaceDump(admin)).toEqual(before);
    expect(seen.webCommands.size).toBeGreaterThan(0);
    expect([...seen.webCommands].filter((c) => !seen.readOnly.has(c))).toEqual([]);
  });

  it('writes docs/web-status.png from a realistic desk', async () => {
    const desk = await startDesk(
      SCREENSHOT_DESK.map((s) => s.symbol),
      { refreshMs: 1000 },
    );
    const now = Date.now();
    await seedSymbols(admin, desk.keys, SCREENSHOT_DESK, now);
    await seedHeartbeats(admin, desk.keys, now);
    const ev = (ago: number, fields: Record<string, string>) =>
      addEvent(admin, desk.keys, fields, now - ago);
    await ev(420_000, {
      event: 'LEDGER_INIT',
      symbol: 'ETHUSDT',
      reason: 'ledger_init',
      new_ledger_amt: '-1.25',
    });
    await ev(300_000, {
      event: 'AUTO_REPAIR',
      symbol: 'DOGEUSDT',
      reason: 'auto_fixed',
      old_ledger_amt: '-3000',
      new_ledger_amt: '-4000',
      evidence_plan_id: 'plan-7781',
    });
    await ev(180_000, { event: 'MANUAL_REQUIRED', symbol: 'LTCUSDT', reason: 'side_mismatch' });
    await ev(95_000, {
      event: 'HOLD_SET',
      symbol: 'SOLUSDT',
      reason: 'qty_mismatch_no_evidence',
      hold_by: 'p34',
    });
    await ev(60_000, {
      event: 'MANUAL_HOLD_SET',
      symbol: 'XRPUSDT',
      reason: 'exchange maintenance',
      operator: 'alice',
    });
    for (let i = 0; i < 40; i += 1) {
      const symbol = SCREENSHOT_DESK[i % 4]!.symbol;
      const hold = symbol === 'SOLUSDT' || symbol === 'XRPUSDT';
      await addAnsweredPlan(admin, desk.keys, {
        id: `plan-${8000 + i}`,
        symbol,
        action: i % 3 === 0 ? 'FULL_CLOSE' : 'PARTIAL_50',
        allow: !hold && i % 7 !== 0,
        reason: hold ? 'reconcile_hold_active' : 'cooldown_in_flight',
        qty: '0.019',
      });
    }
    const { page, errors } = await openPage(browser, { width: 1400, height: 720 });
    await page.goto(desk.url);
    await poll(() => page.locator('#desk-rows tr').count()).toBe(SCREENSHOT_DESK.length);
    await page.locator('#desk-rows tr[data-symbol="SOLUSDT"]').click();
    await poll(() => page.locator('#history-permits tr').count()).toBeGreaterThan(0);
    await poll(() => page.locator('#permit-counts .allow').textContent()).toMatch(/allowed \d+/);
    await page.screenshot({ path: SCREENSHOT });
    expect(errors).toEqual([]);
    await page.close();
  });
});
