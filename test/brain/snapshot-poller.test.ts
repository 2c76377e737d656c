/**
 * The snapshot poller against the simulated venue over real HTTP.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { type Rig, startRig } from '../exchange/helpers.js';
import { SnapshotPoller, type SnapshotPollerOptions } from '../../src/brain/snapshot-poller.js';
import { LotSizeRefresher, type LotSizeRefresherOptions } from '../../src/brain/lot-sizes.js';
import { createBrainMetrics, type BrainMetrics } from '../../src/brain/metrics.js';
import { decodeSnapshot } from '../../src/domain/snapshot.js';
import { Decimal } from '../../src/domain/amount.js';
import { decodeLotSize } from '../../src/domain/lot-size.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { FuturesRestClient } from '../../src/exchange/types.js';
import { systemClock } from '../../src/runtime/clock.js';
import { captureLogs } from '../helpers/logs.js';
import { ManualClock } from '../helpers/manual-time.js';
import { waitFor } from '../helpers/wait.js';
import { recordingTerm, testTerm } from '../helpers/terms.js';
import type { SoleTerm } from '../../src/redis/ha/sole-term.js';
import type { WriterTerm } from '../../src/redis/ha/writer-term.js';
import type { FencedResult } from '../../src/redis/scripts/fencing.js';
import { keyImage } from '../reconcile/key-image.js';

let t: TestRedis;
/** The brain-poller term the pollers and lot sizes write with (SPEC §11). */
let term: SoleTerm;
let rig: Rig;
let metrics: BrainMetrics;
const pollers: SnapshotPoller[] = [];

function poller(overrides: Partial<SnapshotPollerOptions> = {}): SnapshotPoller {
  const p = new SnapshotPoller({
    client: rig.client,
    redis: t.redis,
    keys: t.keys,
    term,
    allowlist: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'],
    pollSec: 60,
    snapshotTtlSec: 3600,
    clock: systemClock,
    metrics,
    logger: silentLogger(),
    ...overrides,
  });
  pollers.push(p);
  return p;
}

/** A poller on manual time: its schedule and refreshes run only when the test moves time. */
function manualPoller(overrides: Partial<SnapshotPollerOptions> = {}) {
  const clock = new ManualClock(Date.now());
  return { clock, p: poller({ clock, scheduler: clock, ...overrides }) };
}

/** The real client, noting the (manual) time at which each positionRisk request starts. */
function notingPollStarts(clock: ManualClock): { client: FuturesRestClient; starts: number[] } {
  const starts: number[] = [];
  const real = rig.client;
  const client = new Proxy(real, {
    get(target, property) {
      if (property === 'positionRisk') {
        return (symbol?: string) => {
          starts.push(clock.nowMs());
          return real.positionRisk(symbol);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
  return { client, starts };
}

async function snapshotOf(symbol: string) {
  return decodeSnapshot(await t.redis.hgetall(t.keys.snapshot(symbol)));
}

async function amountOf(symbol: string): Promise<string | null> {
  const read = await snapshotOf(symbol);
  return read.kind === 'ok' ? read.snapshot.amount.toFixed() : read.kind;
}

function accountUpdate(symbol: string, amount: string, timeMs: number) {
  return {
    type: 'account_update' as const,
    eventTimeMs: timeMs,
    transactionTimeMs: timeMs,
    reason: 'ORDER',
    positions: [
      {
        symbol,
        positionAmt: new Decimal(amount),
        entryPrice: null,
        unrealizedProfit: null,
        positionSide: 'BOTH' as const,
      },
    ],
  };
}

async function counter(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  return (
    metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
      ?.value ?? 0
  );
}

beforeEach(async () => {
  t = openTestRedis('sp');
  term = await testTerm(t.redis, t.keys, 'brain-poller');
  rig = await startRig({ symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT'] });
  metrics = createBrainMetrics();
});

afterEach(async () => {
  await Promise.all(pollers.splice(0).map((p) => p.stop()));
  await rig.venue.close();
  await t.close();
});

describe('snapshot poller', () => {
  it('writes every allowlisted symbol, flat ones included, from ONE positionRisk request', async () => {
    rig.venue.control.setPosition('BTCUSDT', '0.038');
    rig.venue.control.setPosition('ETHUSDT', '-1.5');
    rig.venue.control.resetRequestCounts();
    expect(await poller().pollOnce()).toBe('ok');
    expect(rig.venue.control.requestCounts()).toEqual({ '/fapi/v2/positionRisk': 1 });
    expect(await amountOf('BTCUSDT')).toBe('0.038');
    expect(await amountOf('ETHUSDT')).toBe('-1.5');
    expect(await amountOf('SOLUSDT')).toBe('0');
    expect(await t.redis.exists(t.keys.snapshot('BNBUSDT'))).toBe(0); // not allowlisted
    const eth = await t.redis.hgetall(t.keys.snapshot('ETHUSDT'));
    expect(eth).toMatchObject({ position_amt: '-1.5', side: 'SHORT', source: 'rest' });
    expect(Number(eth.ts_ms)).toBeGreaterThan(Date.now() - 10_000);
    expect(await t.redis.ttl(t.keys.snapshot('ETHUSDT'))).toBeGreaterThan(3500);
    expect(await counter('p33_snapshot_total', { symbol: 'SOLUSDT', status: 'ok' })).toBe(1);
    expect(await counter('p33_position_amt', { symbol: 'ETHUSDT' })).toBe(-1.5);
  });

  it('publishes the symbols whose amount changed (to wake the reconcile engine), nothing when steady', async () => {
    const sub = t.redis.duplicate();
    const messages: string[] = [];
    sub.on('message', (_channel: string, message: string) => messages.push(message));
    await sub.subscribe(t.keys.snapshotChangedChannel);
    try {
      rig.venue.control.setPosition('BTCUSDT', '0.038');
      const p = poller();
      expect(await p.pollOnce()).toBe('ok');
      await waitFor(() => Promise.resolve(messages.length > 0 ? true : null));
      expect(messages[0]?.split(',').sort()).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
      expect(await p.pollOnce()).toBe('ok'); // nothing moved
      rig.venue.control.setPosition('ETHUSDT', '-2');
      expect(await p.pollOnce()).toBe('ok');
      rig.venue.control.setPosition('SOLUSDT', '1');
      expect(await p.pollOnce()).toBe('ok');
      // Pub/sub keeps order: nothing was published between the two changes.
      await waitFor(() => messages.length >= 3);
      expect(messages).toHaveLength(3);
      expect(messages.slice(1)).toEqual(['ETHUSDT', 'SOLUSDT']);
    } finally {
      sub.disconnect();
    }
  });

  it('a failed poll writes nothing: the snapshot ages, it never reads as flat', async () => {
    rig.venue.control.setPosition('BTCUSDT', '0.5');
    const { clock, p } = manualPoller();
    await p.pollOnce();
    const before = await t.redis.hgetall(t.keys.snapshot('BTCUSDT'));
    rig.venue.control.setPosition('BTCUSDT', '0');
    for (const kind of ['http_5xx', 'malformed_json', 'wrong_types', 'invalid_api_key'] as const) {
      rig.venue.control.addFault({ kind, path: '/fapi/v2/positionRisk', count: 1 });
      clock.advance(1000); // a write now would carry a later time
      expect(await p.pollOnce(), kind).toBe('failed');
      expect(await t.redis.hgetall(t.keys.snapshot('BTCUSDT'))).toEqual(before);
    }
    expect(await counter('p33_poll_total', { outcome: 'failed' })).toBe(4);
    expect(await p.pollOnce()).toBe('ok');
    expect(await amountOf('BTCUSDT')).toBe('0');
  });

  it('a symbol absent from the response is unknown_symbol: not written, counted', async () => {
    const p = poller({ allowlist: ['BTCUSDT', 'XRPUSDT'] });
    expect(await p.pollOnce()).toBe('ok');
    expect(await t.redis.exists(t.keys.snapshot('XRPUSDT'))).toBe(0);
    expect(
      await counter('p33_snapshot_total', { symbol: 'XRPUSDT', status: 'unknown_symbol' }),
    ).toBe(1);
    rig.venue.control.addFault({ kind: 'omit_symbols', symbols: ['BTCUSDT'], count: 1 });
    await t.redis.del(t.keys.snapshot('BTCUSDT'));
    expect(await p.pollOnce()).toBe('ok');
    expect(await t.redis.exists(t.keys.snapshot('BTCUSDT'))).toBe(0);
    expect(
      await counter('p33_snapshot_total', { symbol: 'BTCUSDT', status: 'unknown_symbol' }),
    ).toBe(1);
  });

  it('hedge-mode rows are not written; the other symbols are', async () => {
    rig.venue.control.setPosition('BTCUSDT', '0.2');
    rig.venue.control.addFault({ kind: 'hedge_mode', symbols: ['BTCUSDT'] });
    expect(await poller().pollOnce()).toBe('ok');
    expect(await t.redis.exists(t.keys.snapshot('BTCUSDT'))).toBe(0);
    expect(await amountOf('ETHUSDT')).toBe('0');
    expect(await counter('p33_snapshot_total', { symbol: 'BTCUSDT', status: 'hedge_mode' })).toBe(
      1,
    );
  });

  it('429 with Retry-After: 2 pauses polling ~2 s without requests, then recovers', async () => {
    const p = poller();
    rig.venue.control.addFault({ kind: 'http_429', retryAfterSec: 2, count: 1 });
    expect(await p.pollOnce()).toBe('failed');
    rig.venue.control.resetRequestCounts();
    expect(await p.pollOnce()).toBe('skipped_rate_limited');
    expect(rig.venue.control.requestCounts()).toEqual({});
    expect(await t.redis.exists(t.keys.snapshot('BTCUSDT'))).toBe(0);
    await waitFor(async () => ((await p.pollOnce()) === 'ok' ? true : null), 10_000, 200);
    expect(rig.client.pausedUntilMs()).toBeLessThanOrEqual(Date.now());
    expect(await amountOf('BTCUSDT')).toBe('0');
    expect(
      await counter('p33_poll_total', { outcome: 'skipped_rate_limited' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('-1021 (clock outside recvWindow) triggers a time resync and the poll succeeds', async () => {
    await rig.client.syncTime();
    rig.venue.control.setClockSkew(30_000);
    rig.venue.control.resetRequestCounts();
    expect(await poller().pollOnce()).toBe('ok');
    expect(rig.venue.control.requestCounts()).toEqual({
      '/fapi/v2/positionRisk': 2,
      '/fapi/v1/time': 1,
    });
  });

  it('a fill-triggered refresh runs 25 ms later even with a 60 s poll period (debounced: one poll)', async () => {
    rig.venue.control.setPosition('BTCUSDT', '0.05');
    const { clock, p } = manualPoller({ pollSec: 60 });
    p.start();
    await waitFor(() => p.lastSuccessMs() !== null);
    expect(await amountOf('BTCUSDT')).toBe('0.05');
    rig.venue.control.setPosition('BTCUSDT', '0.03');
    rig.venue.control.resetRequestCounts();
    const start = clock.nowMs();
    for (let i = 0; i < 20; i += 1) p.requestRefresh();
    // One refresh timer for the twenty requests, beside the 60 s poll.
    expect(clock.pending()).toEqual([start + 25, start + 60_000]);
    clock.advance(24);
    expect(rig.venue.control.requestCounts()).toEqual({});
    clock.advance(1);
    await waitFor(async () => (await amountOf('BTCUSDT')) === '0.03');
    // Twenty requests, one poll, and nothing else is due before the next 60 s poll.
    expect(rig.venue.control.requestCounts()).toEqual({ '/fapi/v2/positionRisk': 1 });
    expect(clock.pending()).toEqual([start + 60_000]);
  });

  it('a steady stream of fills costs at most one extra poll per 250 ms, never back-to-back polling', async () => {
    const clock = new ManualClock(Date.now());
    const { client, starts } = notingPollStarts(clock);
    const p = poller({ pollSec: 60, client, clock, scheduler: clock });
    const ended = async (): Promise<number> =>
      (await counter('p33_poll_total', { outcome: 'ok' })) +
      (await counter('p33_poll_total', { outcome: 'failed' }));
    p.start();
    await waitFor(() => p.lastSuccessMs() !== null);
    const before = await ended();
    starts.length = 0;
    /** Every poll started so far has ended (manual time stands still meanwhile). */
    const idle = (): Promise<boolean> =>
      waitFor(async () => {
        await new Promise((resolve) => setImmediate(resolve)); // a rerun starts here
        return (await ended()) - before === starts.length;
      });
    const started = clock.nowMs();
    for (let i = 0; i < 200; i += 1) {
      p.requestRefresh(); // a fill every 5 ms for one second
      clock.advance(5);
      await idle();
    }
    clock.advance(300);
    await idle();
    // The first refresh 25 ms after the first fill, then one per 250 ms while fills go on.
    expect(starts.map((at) => at - started)).toEqual([25, 275, 525, 775, 1025]);
  });

  it('skips fill-triggered refreshes while the used weight is above half the limit', async () => {
    const { clock, p } = manualPoller({ pollSec: 60 });
    p.start();
    await waitFor(() => p.lastSuccessMs() !== null);
    // Spend real weight on the venue (positionRisk costs 5): over 1 200 in this minute.
    while ((rig.client.usedWeight1m() ?? 0) <= 1200) await rig.client.positionRisk();
    if (new Date().getSeconds() >= 58) return; // the venue's minute window is about to reset
    rig.venue.control.resetRequestCounts();
    const start = clock.nowMs();
    p.requestRefresh();
    // Refused on the spot: no refresh is scheduled (only the 60 s poll is), nothing is sent.
    expect(await counter('p33_poll_total', { outcome: 'refresh_skipped_weight' })).toBe(1);
    expect(clock.pending()).toEqual([start + 60_000]);
    clock.advance(300);
    expect(rig.venue.control.requestCounts()).toEqual({});
  });

  it('user-data ACCOUNT_UPDATE rows are written at once with source ws, keeping the REST mark price', async () => {
    rig.venue.control.setPosition('SOLUSDT', '3');
    const p = poller();
    await p.pollOnce();
    const mark = (await t.redis.hgetall(t.keys.snapshot('SOLUSDT'))).mark_price;
    expect(mark).not.toBe('');
    await p.applyAccountUpdate({
      type: 'account_update',
      eventTimeMs: Date.now(),
      transactionTimeMs: Date.now(),
      reason: 'ORDER',
      positions: [
        {
          symbol: 'SOLUSDT',
          positionAmt: new Decimal('-2'),
          entryPrice: null,
          unrealizedProfit: null,
          positionSide: 'BOTH',
        },
        {
          symbol: 'DOGEUSDT',
          positionAmt: new Decimal('9'),
          entryPrice: null,
          unrealizedProfit: null,
          positionSide: 'BOTH',
        },
      ],
    });
    expect(await t.redis.hgetall(t.keys.snapshot('SOLUSDT'))).toMatchObject({
      position_amt: '-2',
      side: 'SHORT',
      source: 'ws',
      mark_price: mark,
    });
    expect(await t.redis.exists(t.keys.snapshot('DOGEUSDT'))).toBe(0);
  });

  it('a REST answer taken before a user-stream push does not overwrite it; the next poll does', async () => {
    rig.venue.control.setPosition('SOLUSDT', '3');
    const p = poller();
    // The venue answers at once (SOLUSDT 3) and delivers the answer 400 ms later.
    rig.venue.control.addFault({
      kind: 'hold_reply',
      ms: 400,
      path: '/fapi/v2/positionRisk',
      count: 1,
    });
    rig.venue.control.resetRequestCounts();
    const polling = p.pollOnce();
    await waitFor(() =>
      Promise.resolve(rig.venue.control.requestCounts()['/fapi/v2/positionRisk'] ? true : null),
    );
    const moved = rig.venue.control.setPosition('SOLUSDT', '-5');
    await p.applyAccountUpdate(accountUpdate('SOLUSDT', '-5', moved.updateTime));
    expect(await polling).toBe('ok');
    expect(await t.redis.hgetall(t.keys.snapshot('SOLUSDT'))).toMatchObject({
      position_amt: '-5',
      source: 'ws',
    });
    expect(await amountOf('BTCUSDT')).toBe('0'); // the other symbols were written
    expect(await counter('p33_snapshot_total', { symbol: 'SOLUSDT', status: 'stale' })).toBe(1);
    expect(await p.pollOnce()).toBe('ok'); // sent after the push: same exchange time, later
    expect(await t.redis.hgetall(t.keys.snapshot('SOLUSDT'))).toMatchObject({
      position_amt: '-5',
      source: 'rest',
    });
  });

  it('a delayed answer of a slow instance never rolls back what another instance wrote', async () => {
    rig.venue.control.setPosition('BTCUSDT', '0.3');
    const slow = poller({ client: rig.clientWith({}) });
    const fast = poller({ client: rig.clientWith({}) });
    rig.venue.control.addFault({
      kind: 'hold_reply',
      ms: 500,
      path: '/fapi/v2/positionRisk',
      count: 1,
    });
    rig.venue.control.resetRequestCounts();
    const delayed = slow.pollOnce(); // answered now (0.3), delivered late
    await waitFor(() =>
      Promise.resolve(rig.venue.control.requestCounts()['/fapi/v2/positionRisk'] ? true : null),
    );
    rig.venue.control.setPosition('BTCUSDT', '0.1');
    expect(await fast.pollOnce()).toBe('ok');
    const written = await t.redis.hgetall(t.keys.snapshot('BTCUSDT'));
    expect(written.position_amt).toBe('0.1');
    expect(await delayed).toBe('ok');
    expect(await t.redis.hgetall(t.keys.snapshot('BTCUSDT'))).toEqual(written);
    // A poll sent later than the stored one, same exchange state, still writes.
    expect(await slow.pollOnce()).toBe('ok');
    expect(await amountOf('BTCUSDT')).toBe('0.1');
    expect(Number(await t.redis.hget(t.keys.snapshot('BTCUSDT'), 'ts_ms'))).toBeGreaterThan(
      Number(written.ts_ms),
    );
  });

  it('the refresh after a fill asks for that symbol only (symbol=): one row, the others untouched', async () => {
    const p = poller({ pollSec: 60 });
    p.start();
    await waitFor(() => Promise.resolve(p.lastSuccessMs() !== null ? true : null));
    const eth = await t.redis.hgetall(t.keys.snapshot('ETHUSDT'));
    rig.venue.control.setPosition('BTCUSDT', '0.07');
    rig.venue.control.resetRequestCounts();
    p.requestRefresh('BTCUSDT');
    await waitFor(async () => ((await amountOf('BTCUSDT')) === '0.07' ? true : null), 5000);
    const risk = rig.venue.control.requestLog().filter((r) => r.path === '/fapi/v2/positionRisk');
    expect(risk.map((r) => [r.symbol, r.status])).toEqual([['BTCUSDT', 200]]);
    expect(await t.redis.hgetall(t.keys.snapshot('ETHUSDT'))).toEqual(eth);
    expect(p.lastSuccessMs()).not.toBeNull();
  });

  it('fills of several symbols waiting for the same refresh: one request for every symbol', async () => {
    const p = poller({ pollSec: 60 });
    p.start();
    await waitFor(() => Promise.resolve(p.lastSuccessMs() !== null ? true : null));
    rig.venue.control.setPosition('BTCUSDT', '0.02');
    rig.venue.control.setPosition('ETHUSDT', '-0.4');
    rig.venue.control.resetRequestCounts();
    p.requestRefresh('BTCUSDT');
    p.requestRefresh('ETHUSDT');
    p.requestRefresh('DOGEUSDT'); // not allowlisted: ignored
    await waitFor(async () => ((await amountOf('ETHUSDT')) === '-0.4' ? true : null), 5000);
    expect(await amountOf('BTCUSDT')).toBe('0.02');
    const risk = rig.venue.control.requestLog().filter((r) => r.path === '/fapi/v2/positionRisk');
    expect(risk.map((r) => r.symbol)).toEqual([null]);
  });

  it('a wrong-typed snapshot key: nothing written for it, named once, counted; the other symbols written', async () => {
    const logs = captureLogs('info');
    const logger = logs.logger;
    await t.redis.set(t.keys.snapshot('ETHUSDT'), 'a string');
    rig.venue.control.setPosition('BTCUSDT', '0.2');
    const p = poller({ logger });
    expect(await p.pollOnce()).toBe('ok');
    expect(await p.pollOnce()).toBe('ok');
    expect(await t.redis.get(t.keys.snapshot('ETHUSDT'))).toBe('a string');
    expect(await amountOf('BTCUSDT')).toBe('0.2');
    expect(await counter('p33_snapshot_total', { symbol: 'ETHUSDT', status: 'wrong_type' })).toBe(
      2,
    );
    expect(logs.matching('snapshot key holds another Redis type')).toHaveLength(1);
    await t.redis.del(t.keys.snapshot('ETHUSDT'));
    expect(await p.pollOnce()).toBe('ok');
    expect(await amountOf('ETHUSDT')).toBe('0');
  });

  it('positionRisk v3 (open positions only): listed symbols absent from the answer are flat', async () => {
    rig.venue.control.setPosition('BTCUSDT', '0.1');
    const client = rig.clientWith({ positionRiskVersion: 'v3' });
    const lots = new LotSizeRefresher({
      client,
      redis: t.redis,
      keys: t.keys,
      term,
      allowlist: ['BTCUSDT', 'ETHUSDT', 'XRPUSDT'],
      refreshSec: 3600,
      clock: systemClock,
      metrics,
      logger: silentLogger(),
    });
    const p = poller({
      client,
      allowlist: ['BTCUSDT', 'ETHUSDT', 'XRPUSDT'],
      positionRiskVersion: 'v3',
      listedSymbols: () => lots.listedSymbols(),
    });
    expect(await p.pollOnce()).toBe('ok');
    expect(await t.redis.exists(t.keys.snapshot('ETHUSDT'))).toBe(0); // lot sizes not known yet: unknown
    expect(await lots.refresh()).toBe(true);
    expect(await p.pollOnce()).toBe('ok');
    expect(await amountOf('BTCUSDT')).toBe('0.1');
    expect(await amountOf('ETHUSDT')).toBe('0');
    expect(await t.redis.exists(t.keys.snapshot('XRPUSDT'))).toBe(0);
  });

  it('lot sizes are written for allowlisted symbols the exchange lists', async () => {
    const lots = new LotSizeRefresher({
      client: rig.client,
      redis: t.redis,
      keys: t.keys,
      term,
      allowlist: ['BTCUSDT', 'XRPUSDT'],
      refreshSec: 3600,
      clock: systemClock,
      metrics,
      logger: silentLogger(),
    });
    expect(await lots.refresh()).toBe(true);
    const lot = decodeLotSize(await t.redis.hgetall(t.keys.symbolLotSize('BTCUSDT')));
    expect(lot?.stepSize.toFixed()).toBe('0.001');
    expect(lot?.minQty.toFixed()).toBe('0.001');
    expect(await t.redis.exists(t.keys.symbolLotSize('XRPUSDT'))).toBe(0);
    rig.venue.control.addFault({ kind: 'http_5xx', count: 1 });
    expect(await lots.refresh()).toBe(false);
  });

  it('lot sizes lost by Redis (restart empty, deleted key) come back at the next re-write (5 s), without an exchange call', async () => {
    const clock = new ManualClock(Date.now());
    const lots = new LotSizeRefresher({
      client: rig.client,
      redis: t.redis,
      keys: t.keys,
      term,
      allowlist: ['BTCUSDT', 'ETHUSDT'],
      refreshSec: 3600,
      clock,
      scheduler: clock,
      metrics,
      logger: silentLogger(),
    });
    const lotKeys = [t.keys.symbolLotSize('BTCUSDT'), t.keys.symbolLotSize('ETHUSDT')];
    lots.start();
    try {
      clock.advance(0); // the start refresh
      await waitFor(async () => (await t.redis.exists(...lotKeys)) === 2);
      rig.venue.control.resetRequestCounts();
      await t.redis.del(...lotKeys);
      clock.advance(4999);
      expect(await t.redis.exists(...lotKeys)).toBe(0);
      clock.advance(1); // the re-write tick
      await waitFor(async () => (await t.redis.exists(...lotKeys)) === 2);
      expect(
        decodeLotSize(await t.redis.hgetall(t.keys.symbolLotSize('BTCUSDT')))?.stepSize.toFixed(),
      ).toBe('0.001');
      expect(rig.venue.control.requestCounts()).toEqual({});
    } finally {
      await lots.stop();
    }
  });
});

describe('the brain-poller role’s writes are fenced (SPEC §11)', () => {
  /** This instance paused; another took the role: its term still gives the old epoch. */
  async function takeover(): Promise<number> {
    await t.redis.del(t.keys.lease('brain-poller'));
    return (await testTerm(t.redis, t.keys, 'brain-poller', 'other')).acquiredEpoch;
  }

  const lotSizes = (over: Partial<LotSizeRefresherOptions>) =>
    new LotSizeRefresher({
      client: rig.client,
      redis: t.redis,
      keys: t.keys,
      term,
      allowlist: ['BTCUSDT', 'ETHUSDT'],
      refreshSec: 3600,
      clock: systemClock,
      metrics,
      logger: silentLogger(),
      ...over,
    });

  it('a stale term: the poll (REST) and the user-stream rows write, publish and count nothing; the term is told once per refused write', async () => {
    rig.venue.control.setPosition('BTCUSDT', '0.1');
    const recorder = recordingTerm(term);
    const p = poller({ term: recorder });
    expect(await p.pollOnce()).toBe('ok');
    const fence = await takeover();
    rig.venue.control.setPosition('BTCUSDT', '0.2');
    const before = await keyImage(t);
    const okPolls = await counter('p33_poll_total', { outcome: 'ok' });
    const written = await counter('p33_snapshot_total', { symbol: 'BTCUSDT', status: 'ok' });
    expect(await p.pollOnce()).toBe('fenced');
    await p.applyAccountUpdate(accountUpdate('BTCUSDT', '0.3', Date.now()));
    expect(await keyImage(t), 'every key byte for byte').toEqual(before);
    const refusal = { status: 'fenced', fence, epoch: term.acquiredEpoch };
    expect(recorder.refusals).toEqual([refusal]); // the ws write found the term ended
    expect(await counter('p33_poll_total', { outcome: 'ok' })).toBe(okPolls);
    expect(await counter('p33_snapshot_total', { symbol: 'BTCUSDT', status: 'ok' })).toBe(written);
    expect(await amountOf('BTCUSDT')).toBe('0.1');
  });

  it('no term (the role just ended): not_leader — nothing written, nothing counted, the term not told', async () => {
    const refusals: FencedResult[] = [];
    const none: WriterTerm = {
      role: 'brain-poller',
      epoch: () => null,
      fenced: (r) => refusals.push(r),
    };
    const p = poller({ term: none });
    const before = await keyImage(t);
    expect(await p.pollOnce()).toBe('not_leader');
    await p.applyAccountUpdate(accountUpdate('BTCUSDT', '0.3', Date.now()));
    expect(await keyImage(t)).toEqual(before);
    expect(await counter('p33_poll_total')).toBe(0);
    expect(refusals).toEqual([]);
    expect(p.lastSuccessMs()).toBeNull();
  });

  it('lot sizes with a stale term: nothing written (refresh or re-write), the term told; without a term nothing either', async () => {
    const recorder = recordingTerm(term);
    const lots = lotSizes({ term: recorder });
    const fence = await takeover();
    const before = await keyImage(t);
    await lots.refresh();
    await lots.rewrite();
    expect(await keyImage(t)).toEqual(before);
    expect(recorder.refusals).toEqual([{ status: 'fenced', fence, epoch: term.acquiredEpoch }]);
    const none = lotSizes({
      term: { role: 'brain-poller', epoch: () => null, fenced: () => undefined },
    });
    await none.refresh();
    expect(await keyImage(t)).toEqual(before);
    expect(await t.redis.exists(t.keys.symbolLotSize('BTCUSDT'))).toBe(0);
  });

  it('a lot-size key of another type: the others are written, the refresh fails naming it', async () => {
    await t.redis.set(t.keys.symbolLotSize('ETHUSDT'), 'not a hash');
    const lots = lotSizes({});
    expect(await lots.refresh()).toBe(false);
    expect(await t.redis.hget(t.keys.symbolLotSize('BTCUSDT'), 'step_size')).toBe('0.001');
    expect(await t.redis.get(t.keys.symbolLotSize('ETHUSDT'))).toBe('not a hash');
    expect(await counter('p33_loop_errors_total', { component: 'lot-sizes' })).toBe(1);
  });
});
