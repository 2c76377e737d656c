/**
 * The status page (`posguard web`) in Debian's chromium at 550 symbols: how long a hold
 * written with SETEX takes to show in the page (at the default refresh and a fast one),
 * how long the page takes to load until the whole table is on screen, and one desk read
 * (every symbol and both heartbeats, one round trip). Each figure also as a ratio to the
 * Redis PING round trip of the same run. Measured, not asserted. Skipped (with the reason
 * in the results) where chromium is absent.
 */
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { type Browser, type Page, chromium } from 'playwright-core';
import { loadConfig } from '../../src/config/config.js';
import { silentLogger } from '../../src/observability/logger.js';
import { buildKeys, type Keys } from '../../src/redis/keys.js';
import { syntheticSymbols } from '../../src/dev/venue/symbols.js';
import { readDesk } from '../../src/web/desk-reader.js';
import { startWebServer } from '../../src/web/server.js';
import { webSettings } from '../../src/web/settings.js';
import { dropPrefix, seedSymbols } from '../seed.js';
import { type Summary, roundSummary, summarize } from '../stats.js';
import type { ScenarioContext } from './context.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface WebHoldRun {
  refreshMs: number;
  /** SETEX sent → the hold's owner shown in the page (ms). */
  latencyMs: Summary | null;
  ratioP50ToPing: number | null;
}

export interface WebResult {
  skipped: string | null;
  symbols: number;
  pingP50Ms: number;
  holdVisible: WebHoldRun[];
  /** Navigation start → every row in the table (the page's own user-timing mark), ms. */
  pageLoadMs: Summary | null;
  pageLoadRatioP50ToPing: number | null;
  /** One desk read (all symbols + heartbeats, one pipeline) measured from Node, ms. */
  deskReadMs: Summary | null;
  deskReadRatioP50ToPing: number | null;
}

/**
 * In the page: stamp (Date.now, the same clock as Node's on one machine) the moment a row's
 * hold cell first shows an owner — the DOM update; the paint follows within a frame.
 */
const STAMP_HOLDS = `(() => {
  window.holdSeen = {};
  new MutationObserver((records) => {
    for (const r of records) {
      const td = r.target;
      if (td.classList && td.classList.contains('c-hold') && td.textContent !== '') {
        const symbol = td.parentElement.dataset.symbol;
        if (!(symbol in window.holdSeen)) window.holdSeen[symbol] = Date.now();
      }
    }
  }).observe(document.getElementById('desk-rows'), { subtree: true, childList: true, characterData: true });
})()`;

/**
 * Polls an expression in the page until it is a number (the page's CSP forbids eval, so
 * Playwright's waitForFunction cannot run there; page.evaluate goes through the debugger).
 * The times measured are stamped inside the page, so the polling does not blur them.
 */
async function pollNumber(page: Page, expression: string, timeoutMs = 20_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value: unknown = await page.evaluate(expression);
    if (typeof value === 'number') return value;
    if (performance.now() > deadline) throw new Error(`${expression}: no value in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const ratio = (s: Summary | null, floor: number): number | null =>
  s === null || floor <= 0 ? null : Math.round((s.p50 / floor) * 10) / 10;

async function measureHold(
  browser: Browser,
  url: string,
  keys: Keys,
  ctx: ScenarioContext,
  symbols: readonly string[],
  samples: number,
): Promise<number[]> {
  const page = await browser.newPage();
  page.setDefaultTimeout(20_000);
  await page.goto(url);
  await page.waitForSelector(`#desk-rows tr[data-symbol="${symbols[symbols.length - 1]}"]`);
  await page.evaluate(STAMP_HOLDS);
  const latencies: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    const symbol = symbols[(i * 97) % symbols.length]!;
    const sentAt = Date.now();
    await ctx.admin.setex(keys.hold(symbol), 600, '1');
    latencies.push((await pollNumber(page, `window.holdSeen[${JSON.stringify(symbol)}]`)) - sentAt);
    await ctx.admin.del(keys.hold(symbol));
    await page.evaluate(`delete window.holdSeen[${JSON.stringify(symbol)}]`);
    await page.waitForSelector(`#desk-rows tr[data-symbol="${symbol}"]:not(.has-hold)`);
  }
  await page.close();
  return latencies;
}

async function measureLoad(browser: Browser, url: string, loads: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < loads; i += 1) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(url);
    times.push(
      await pollNumber(
        page,
        "performance.getEntriesByName('posguard:desk-rendered')[0]?.startTime",
      ),
    );
    await context.close();
  }
  return times;
}

export async function runWeb(ctx: ScenarioContext): Promise<WebResult> {
  const params = ctx.params.web;
  const pingP50Ms = ctx.floors.pingRttMs.p50;
  const base: WebResult = {
    skipped: null,
    symbols: params.symbols,
    pingP50Ms,
    holdVisible: [],
    pageLoadMs: null,
    pageLoadRatioP50ToPing: null,
    deskReadMs: null,
    deskReadRatioP50ToPing: null,
  };
  if (!existsSync(CHROMIUM)) {
    return { ...base, skipped: `chromium not found at ${CHROMIUM} (apt-get install chromium)` };
  }
  const prefix = `${ctx.prefix}web`;
  const keys = buildKeys(prefix);
  const symbols = syntheticSymbols(params.symbols);
  await seedSymbols(ctx.admin, keys, symbols, { nowMs: Date.now(), ttlSec: 3600 });
  const config = loadConfig({ REDIS_URL: ctx.redisUrl, KEY_PREFIX: prefix });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless=new'],
  });
  try {
    const reads: number[] = [];
    for (let i = 0; i < params.deskReads; i += 1) {
      const t0 = performance.now();
      await readDesk(ctx.admin, keys, symbols, () => Date.now());
      reads.push(performance.now() - t0);
    }
    const deskReadMs = roundSummary(summarize(reads), 3);
    for (const refreshMs of params.refreshMs) {
      const server = await startWebServer({
        settings: webSettings({ port: 0, refreshMs, env: {} }),
        redis: config.redis,
        keys,
        symbols,
        logger: silentLogger(),
      });
      try {
        ctx.progress(`web: hold → page, refresh ${refreshMs} ms, ${params.holdSamples} samples`);
        const latency = roundSummary(
          summarize(await measureHold(browser, server.url, keys, ctx, symbols, params.holdSamples)),
          1,
        );
        base.holdVisible.push({
          refreshMs,
          latencyMs: latency,
          ratioP50ToPing: ratio(latency, pingP50Ms),
        });
        if (refreshMs === params.refreshMs[0]) {
          ctx.progress(`web: page load at ${params.symbols} symbols, ${params.loads} loads`);
          base.pageLoadMs = roundSummary(
            summarize(await measureLoad(browser, server.url, params.loads)),
            1,
          );
        }
      } finally {
        await server.close();
      }
    }
    return {
      ...base,
      pageLoadRatioP50ToPing: ratio(base.pageLoadMs, pingP50Ms),
      deskReadMs,
      deskReadRatioP50ToPing: ratio(deskReadMs, pingP50Ms),
    };
  } finally {
    await browser.close();
    await dropPrefix(ctx.admin, prefix);
  }
}
