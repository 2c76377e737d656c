import { afterEach, describe, expect, it } from 'vitest';
import { formatAmount } from '../../src/domain/amount.js';
import { ExchangeError } from '../../src/exchange/types.js';
import { ManualClock } from '../helpers/manual-time.js';
import { API_KEY, API_SECRET, type Rig, rejectionOf, startRig } from './helpers.js';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.venue.close();
  rig = null;
});

function expectNoSecrets(text: string): void {
  expect(text).not.toContain(API_SECRET);
  expect(text).not.toContain(API_KEY);
  expect(text).not.toMatch(/signature=[0-9a-f]{16}/);
}

describe('BinanceClient against the simulated venue', () => {
  it('signs requests the venue accepts; one positionRisk request returns every symbol with its sign', async () => {
    rig = await startRig({ symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'] });
    rig.venue.control.setPosition('BTCUSDT', '0.010', '60000');
    rig.venue.control.setPosition('ETHUSDT', '-1.25', '3000');
    await rig.client.syncTime();
    const rows = await rig.client.positionRisk();
    expect(rows.map((r) => r.symbol).sort()).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    const bySymbol = new Map(rows.map((r) => [r.symbol, r]));
    expect(formatAmount(bySymbol.get('BTCUSDT')!.positionAmt)).toBe('0.01');
    expect(formatAmount(bySymbol.get('ETHUSDT')!.positionAmt)).toBe('-1.25');
    expect(bySymbol.get('ETHUSDT')!.positionSide).toBe('BOTH');
    expect(bySymbol.get('SOLUSDT')!.positionAmt.isZero()).toBe(true);
    expect(bySymbol.get('ETHUSDT')!.leverage).toBe('20');
    expect(rig.venue.control.requestCounts()['/fapi/v2/positionRisk']).toBe(1);
  });

  it('v3 is requested from /fapi/v3/positionRisk and lists only open positions, as Binance does', async () => {
    rig = await startRig({ symbols: ['BTCUSDT', 'ETHUSDT'] }, { positionRiskVersion: 'v3' });
    rig.venue.control.setPosition('ETHUSDT', '-0.5');
    const rows = await rig.client.positionRisk();
    expect(rows.map((r) => [r.symbol, formatAmount(r.positionAmt)])).toEqual([['ETHUSDT', '-0.5']]);
    expect(rows[0]!.leverage).toBeNull();
    expect(rig.venue.control.requestCounts()).toMatchObject({ '/fapi/v3/positionRisk': 1 });
    expect(rig.venue.control.requestCounts()['/fapi/v2/positionRisk']).toBeUndefined();
  });

  it('a wrong secret is -1022 and an unknown key -2015, surfaced without any secret', async () => {
    rig = await startRig();
    const badSecret = await rejectionOf(
      rig.clientWith({ apiSecret: 'wrong-secret-value-xyz' }).positionRisk(),
    );
    expect(badSecret).toBeInstanceOf(ExchangeError);
    expect(badSecret.code).toBe('EXCHANGE_REJECTED');
    expect(badSecret.details).toMatchObject({ httpStatus: 400, binanceCode: -1022 });
    expect(badSecret.message).not.toContain('wrong-secret-value-xyz');
    expectNoSecrets(badSecret.message);

    const badKey = await rejectionOf(
      rig.clientWith({ apiKey: 'someone-elses-key-123' }).positionRisk(),
    );
    expect(badKey.details).toMatchObject({ httpStatus: 401, binanceCode: -2015 });
    expect(badKey.message).not.toContain('someone-elses-key-123');
    expectNoSecrets(JSON.stringify(rig.events));
  });

  it('lot sizes come from MARKET_LOT_SIZE, falling back to LOT_SIZE when its step is zero', async () => {
    rig = await startRig({
      symbols: [
        {
          symbol: 'BTCUSDT',
          stepSize: '0.001',
          minQty: '0.001',
          maxQty: '1000',
          marketStepSize: '0.01',
          marketMinQty: '0.02',
          marketMaxQty: '120',
        },
        {
          symbol: 'ETHUSDT',
          stepSize: '0.005',
          minQty: '0.01',
          maxQty: '500',
          marketStepSize: '0',
          marketMinQty: '0',
          marketMaxQty: '0',
        },
      ],
    });
    const lots = await rig.client.lotSizes();
    const btc = lots.get('BTCUSDT')!;
    expect(
      [btc.stepSize, btc.minQty, btc.maxQty].map((v) => (v === null ? null : formatAmount(v))),
    ).toEqual(['0.01', '0.02', '120']);
    const eth = lots.get('ETHUSDT')!;
    expect(
      [eth.stepSize, eth.minQty, eth.maxQty].map((v) => (v === null ? null : formatAmount(v))),
    ).toEqual(['0.005', '0.01', '500']);
  });

  it('429 with Retry-After pauses every call without sending, then resumes', async () => {
    rig = await startRig();
    const clock = new ManualClock(Date.now());
    const client = rig.clientWith({ clock });
    rig.venue.control.addFault({ kind: 'http_429', count: 1, retryAfterSec: 1 });
    const limited = await rejectionOf(client.positionRisk());
    expect(limited.code).toBe('EXCHANGE_RATE_LIMITED');
    expect(limited.details).toMatchObject({ httpStatus: 429, retryAfterMs: 1000 });
    expect(client.pausedUntilMs()).toBe(clock.nowMs() + 1000);
    rig.venue.control.resetRequestCounts();

    clock.advance(999);
    const duringPause = await Promise.all([
      rejectionOf(client.positionRisk()),
      rejectionOf(client.lotSizes()),
      rejectionOf(client.syncTime()),
    ]);
    for (const error of duringPause) {
      expect(error.code).toBe('EXCHANGE_RATE_LIMITED');
      expect(error.details?.httpStatus).toBeUndefined();
    }
    expect(rig.venue.control.requestCounts()).toEqual({});

    clock.advance(1); // Retry-After has passed
    expect(await client.positionRisk()).toHaveLength(2);
    expect(rig.venue.control.requestCounts()).toEqual({ '/fapi/v2/positionRisk': 1 });
  });

  it('418 (IP ban) is honoured the same way', async () => {
    rig = await startRig();
    const clock = new ManualClock(Date.now());
    const client = rig.clientWith({ clock });
    rig.venue.control.addFault({
      kind: 'http_418',
      path: '/fapi/v1/exchangeInfo',
      count: 1,
      retryAfterSec: 1,
    });
    const banned = await rejectionOf(client.lotSizes());
    expect(banned.details).toMatchObject({ httpStatus: 418, retryAfterMs: 1000 });
    rig.venue.control.resetRequestCounts();
    clock.advance(999);
    expect((await rejectionOf(client.positionRisk())).code).toBe('EXCHANGE_RATE_LIMITED');
    expect(rig.venue.control.requestCounts()).toEqual({});
    clock.advance(1);
    expect((await client.lotSizes()).size).toBe(2);
  });

  it('-1021 re-measures the clock offset and the call succeeds on its one retry', async () => {
    rig = await startRig();
    await rig.client.syncTime();
    rig.venue.control.setClockSkew(30_000);
    rig.venue.control.resetRequestCounts();
    const rows = await rig.client.positionRisk();
    expect(rows).toHaveLength(2);
    expect(rig.venue.control.requestCounts()).toEqual({
      '/fapi/v2/positionRisk': 2,
      '/fapi/v1/time': 1,
    });
    expect(rig.client.timeOffsetMs()).toBeGreaterThan(25_000);
    expect(rig.client.timeOffsetMs()).toBeLessThan(35_000);
  });

  it('a persistent -1021 fails after exactly one retry', async () => {
    rig = await startRig();
    rig.venue.control.addFault({
      kind: 'timestamp_outside_recv_window',
      path: '/fapi/v2/positionRisk',
    });
    const error = await rejectionOf(rig.client.positionRisk());
    expect(error.details).toMatchObject({ binanceCode: -1021 });
    expect(rig.venue.control.requestCounts()['/fapi/v2/positionRisk']).toBe(2);
  });

  it('a slow venue is EXCHANGE_TIMEOUT, bounded by the configured timeout', async () => {
    rig = await startRig({}, { timeoutMs: 200 });
    rig.venue.control.addFault({ kind: 'latency', ms: 5000, count: 1 });
    const started = Date.now();
    const error = await rejectionOf(rig.client.positionRisk());
    expect(error.code).toBe('EXCHANGE_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('malformed JSON and wrong types are EXCHANGE_RESPONSE_INVALID, never a guess', async () => {
    rig = await startRig();
    rig.venue.control.addFault({ kind: 'malformed_json', count: 1 });
    expect((await rejectionOf(rig.client.positionRisk())).code).toBe('EXCHANGE_RESPONSE_INVALID');
    rig.venue.control.addFault({ kind: 'wrong_types', count: 1 });
    const wrong = await rejectionOf(rig.client.positionRisk());
    expect(wrong.code).toBe('EXCHANGE_RESPONSE_INVALID');
    expect(wrong.message).toContain('positionAmt');
    rig.venue.control.addFault({ kind: 'wrong_types', path: '/fapi/v1/time', count: 1 });
    expect((await rejectionOf(rig.client.syncTime())).code).toBe('EXCHANGE_RESPONSE_INVALID');
    expect(await rig.client.positionRisk()).toHaveLength(2);
  });

  it('hedge-mode rows come back as LONG/SHORT rows; an omitted symbol is simply absent', async () => {
    rig = await startRig({ symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'] });
    rig.venue.control.setPosition('ETHUSDT', '-2');
    rig.venue.control.addFault({ kind: 'hedge_mode', symbols: ['ETHUSDT'], count: 1 });
    rig.venue.control.addFault({ kind: 'omit_symbols', symbols: ['SOLUSDT'], count: 1 });
    const rows = await rig.client.positionRisk();
    expect(rows.map((r) => [r.symbol, r.positionSide, formatAmount(r.positionAmt)])).toEqual([
      ['BTCUSDT', 'BOTH', '0'],
      ['ETHUSDT', 'LONG', '0'],
      ['ETHUSDT', 'SHORT', '-2'],
    ]);
  });

  it('places reduce-only market orders; one that would flip the position is -2022 and changes nothing', async () => {
    rig = await startRig();
    rig.venue.control.setPosition('BTCUSDT', '0.010', '60000');
    const fill = await rig.client.placeOrder({
      symbol: 'BTCUSDT',
      side: 'SELL',
      quantity: '0.004',
      reduceOnly: true,
      newClientOrderId: 'plan-1',
    });
    expect(fill).toMatchObject({ symbol: 'BTCUSDT', side: 'SELL', status: 'FILLED' });
    expect(formatAmount(fill.executedQty)).toBe('0.004');
    expect(formatAmount(fill.avgPrice!)).toBe('60000');

    const flip = await rejectionOf(
      rig.client.placeOrder({
        symbol: 'BTCUSDT',
        side: 'SELL',
        quantity: '0.007',
        reduceOnly: true,
      }),
    );
    expect(flip.details).toMatchObject({ binanceCode: -2022 });
    const grow = await rejectionOf(
      rig.client.placeOrder({
        symbol: 'BTCUSDT',
        side: 'BUY',
        quantity: '0.001',
        reduceOnly: true,
      }),
    );
    expect(grow.details).toMatchObject({ binanceCode: -2022 });
    const offStep = await rejectionOf(
      rig.client.placeOrder({
        symbol: 'BTCUSDT',
        side: 'SELL',
        quantity: '0.0015',
        reduceOnly: true,
      }),
    );
    expect(offStep.details).toMatchObject({ binanceCode: -1111 });

    expect(rig.venue.control.position('BTCUSDT').positionAmt).toBe('0.006');
    const log = rig.venue.control.orders();
    expect(log.map((o) => [o.status, o.positionBefore, o.positionAfter, o.rejectCode])).toEqual([
      ['FILLED', '0.01', '0.006', null],
      ['REJECTED', '0.006', '0.006', -2022],
      ['REJECTED', '0.006', '0.006', -2022],
      ['REJECTED', '0.006', '0.006', -1111],
    ]);
  });

  it('a 5xx on an order marks the outcome unknown', async () => {
    rig = await startRig();
    rig.venue.control.setPosition('BTCUSDT', '0.010');
    rig.venue.control.addFault({ kind: 'http_5xx', path: '/fapi/v1/order', count: 1 });
    const error = await rejectionOf(
      rig.client.placeOrder({
        symbol: 'BTCUSDT',
        side: 'SELL',
        quantity: '0.001',
        reduceOnly: true,
      }),
    );
    expect(error.code).toBe('EXCHANGE_HTTP');
    expect(error.details).toMatchObject({ httpStatus: 503, executionUnknown: true });
  });

  it('an external trade changes the position the client reads', async () => {
    rig = await startRig();
    rig.venue.control.setPosition('BTCUSDT', '0.010');
    rig.venue.control.externalTrade('BTCUSDT', '-0.025');
    const btc = (await rig.client.positionRisk()).find((r) => r.symbol === 'BTCUSDT')!;
    expect(formatAmount(btc.positionAmt)).toBe('-0.015');
    expect(btc.updateTimeMs).not.toBeNull();
  });

  it('tracks X-MBX-USED-WEIGHT-1M and reports every call to onRequest', async () => {
    rig = await startRig();
    await rig.client.syncTime();
    await rig.client.positionRisk();
    await rig.client.lotSizes();
    expect(rig.client.usedWeight1m()).toBe(rig.venue.control.usedWeight1m());
    expect(rig.client.usedWeight1m()).toBe(1 + 5 + 1);
    expect(rig.events.map((e) => [e.endpoint, e.status, e.error])).toEqual([
      ['/fapi/v1/time', 200, undefined],
      ['/fapi/v2/positionRisk', 200, undefined],
      ['/fapi/v1/exchangeInfo', 200, undefined],
    ]);
  });

  it('an unreachable venue is EXCHANGE_HTTP; missing credentials are a config error, not a request', async () => {
    rig = await startRig();
    const url = rig.venue.baseUrl;
    await rig.venue.close();
    const down = await rejectionOf(rig.clientWith({ baseUrl: url }).syncTime());
    expect(down.code).toBe('EXCHANGE_HTTP');
    rig = await startRig();
    const noKey = await rejectionOf(rig.clientWith({ apiSecret: undefined }).positionRisk());
    expect(noKey.code).toBe('CONFIG_INVALID');
    expect(rig.venue.control.requestCounts()).toEqual({});
  });
});
