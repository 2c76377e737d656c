import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Decimal, formatAmount } from '../../src/domain/amount.js';
import { hmacSha256Hex } from '../../src/exchange/signing.js';
import { type Venue, startVenue, syntheticSymbols } from '../../src/dev/venue/venue.js';
import { API_KEY, API_SECRET, type Rig, rejectionOf, startRig } from './helpers.js';
import { waitFor } from '../helpers/wait.js';
import { assertProperty } from '../helpers/property.js';

let venue: Venue | null = null;
let rig: Rig | null = null;
afterEach(async () => {
  await venue?.close();
  await rig?.venue.close();
  venue = null;
  rig = null;
});

async function control(
  v: Venue,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${v.baseUrl}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: await response.json() };
}

describe('simulated venue', () => {
  it('verifies the signature over query + body, as Binance does', async () => {
    venue = await startVenue({ apiKey: API_KEY, apiSecret: API_SECRET });
    venue.control.setPosition('BTCUSDT', '0.005');
    const query = `timestamp=${Date.now()}&recvWindow=5000`;
    const body = 'symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.002&reduceOnly=true';
    const signature = hmacSha256Hex(API_SECRET, query + body);
    const post = (q: string) =>
      fetch(`${venue!.baseUrl}/fapi/v1/order?${q}`, {
        method: 'POST',
        headers: { 'X-MBX-APIKEY': API_KEY, 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
    const tampered = await post(`${query.replace('5000', '6000')}&signature=${signature}`);
    expect(tampered.status).toBe(400);
    expect(await tampered.json()).toEqual({
      code: -1022,
      msg: 'Signature for this request is not valid.',
    });
    const good = await post(`${query}&signature=${signature}`);
    expect(good.status).toBe(200);
    expect(venue.control.position('BTCUSDT').positionAmt).toBe('0.003');
  });

  it('serves the control API over HTTP: position, mark, trade, faults, orders', async () => {
    venue = await startVenue({ apiKey: API_KEY, apiSecret: API_SECRET });
    expect(
      (
        await control(venue, 'POST', '/_control/position', {
          symbol: 'ETHUSDT',
          amount: '-1.5',
          entryPrice: '3000',
        })
      ).status,
    ).toBe(200);
    expect(
      (await control(venue, 'POST', '/_control/mark', { symbol: 'ETHUSDT', price: '2900' })).json,
    ).toMatchObject({ unRealizedProfit: '150' });
    expect(
      (await control(venue, 'POST', '/_control/trade', { symbol: 'ETHUSDT', quantity: '0.5' }))
        .json,
    ).toMatchObject({ source: 'external', positionBefore: '-1.5', positionAfter: '-1' });
    expect((await control(venue, 'GET', '/_control/positions')).json).toEqual([
      expect.objectContaining({ symbol: 'ETHUSDT', positionAmt: '-1' }),
    ]);
    expect(
      (
        await control(venue, 'POST', '/_control/faults', {
          kind: 'http_429',
          count: 2,
          retryAfterSec: 1,
        })
      ).json,
    ).toMatchObject({ id: 1, remaining: 2 });
    expect((await control(venue, 'POST', '/_control/faults', { kind: 'nonsense' })).status).toBe(
      400,
    );
    expect(((await control(venue, 'GET', '/_control/faults')).json as unknown[]).length).toBe(1);
    const limited = await fetch(`${venue.baseUrl}/fapi/v1/time`);
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '1']);
    await control(venue, 'DELETE', '/_control/faults');
    expect((await fetch(`${venue.baseUrl}/fapi/v1/time`)).status).toBe(200);
    expect(
      (await control(venue, 'POST', '/_control/position', { symbol: 'NOPEUSDT', amount: '1' }))
        .status,
    ).toBe(404);
    expect((await control(venue, 'GET', '/_control/orders')).json).toHaveLength(1);
  });

  it('answers positionRisk for 20 000 symbols in one response', async () => {
    rig = await startRig({ symbols: syntheticSymbols(20_000) });
    rig.venue.control.setPosition('SIM19999USDT', '-3.5');
    const rows = await rig.client.positionRisk();
    expect(rows).toHaveLength(20_000);
    expect(formatAmount(rows.find((r) => r.symbol === 'SIM19999USDT')!.positionAmt)).toBe('-3.5');
    expect(rig.venue.control.requestCounts()).toEqual({ '/fapi/v2/positionRisk': 1 });
  });

  it('positionRisk with symbol= answers that symbol only, for the same weight (5); an unknown symbol is -1121', async () => {
    rig = await startRig({ symbols: syntheticSymbols(5000) });
    rig.venue.control.setPosition('SIM00042USDT', '-0.7');
    const full = await rig.client.positionRisk();
    const weightAfterFull = rig.client.usedWeight1m()!;
    const one = await rig.client.positionRisk('SIM00042USDT');
    expect(full).toHaveLength(5000);
    expect(one.map((r) => [r.symbol, formatAmount(r.positionAmt)])).toEqual([
      ['SIM00042USDT', '-0.7'],
    ]);
    expect(rig.client.usedWeight1m()).toBe(weightAfterFull + 5);
    const flat = await rig.client.positionRisk('SIM00007USDT'); // v2: a flat symbol's row too
    expect(flat.map((r) => formatAmount(r.positionAmt))).toEqual(['0']);
    const v3 = rig.clientWith({ positionRiskVersion: 'v3' });
    expect(await v3.positionRisk('SIM00007USDT')).toEqual([]); // v3 lists open positions only
    expect((await v3.positionRisk('SIM00042USDT')).map((r) => r.symbol)).toEqual(['SIM00042USDT']);
    const unknown = await rejectionOf(rig.client.positionRisk('NOPEUSDT'));
    expect(unknown.details?.binanceCode).toBe(-1121);
    expect(
      rig.venue.control
        .requestLog()
        .filter((r) => r.path.endsWith('/positionRisk'))
        .map((r) => [r.path, r.symbol, r.status]),
    ).toEqual([
      ['/fapi/v2/positionRisk', null, 200],
      ['/fapi/v2/positionRisk', 'SIM00042USDT', 200],
      ['/fapi/v2/positionRisk', 'SIM00007USDT', 200],
      ['/fapi/v3/positionRisk', 'SIM00007USDT', 200],
      ['/fapi/v3/positionRisk', 'SIM00042USDT', 200],
      ['/fapi/v2/positionRisk', 'NOPEUSDT', 400],
    ]);
  });

  it('hold_reply answers with the account as it was when the request arrived, delivered late', async () => {
    rig = await startRig();
    rig.venue.control.setPosition('BTCUSDT', '0.5');
    rig.venue.control.addFault({
      kind: 'hold_reply',
      ms: 300,
      path: '/fapi/v2/positionRisk',
      count: 1,
    });
    const { venue, client } = rig;
    const late = client.positionRisk();
    await waitFor(() => (venue.control.requestCounts()['/fapi/v2/positionRisk'] ?? 0) > 0, {
      what: 'the request to arrive',
    });
    rig.venue.control.setPosition('BTCUSDT', '0.1');
    const rows = await late;
    expect(formatAmount(rows.find((r) => r.symbol === 'BTCUSDT')!.positionAmt)).toBe('0.5');
    const now = await rig.client.positionRisk(); // the fault was for one reply only
    expect(formatAmount(now.find((r) => r.symbol === 'BTCUSDT')!.positionAmt)).toBe('0.1');
    expect(() => rig!.venue.control.addFault({ kind: 'hold_reply' })).toThrow(
      /hold_reply needs ms/,
    );
  });

  it('reduce-only orders never cross zero and the order log accounts for every fill', async () => {
    rig = await startRig({ symbols: ['BTCUSDT'] });
    const r = rig;
    await assertProperty(
      fc.asyncProperty(
        fc.integer({ min: -50, max: 50 }),
        fc.array(
          fc.record({
            buy: fc.boolean(),
            steps: fc.integer({ min: 1, max: 30 }),
            reduceOnly: fc.boolean(),
          }),
          { maxLength: 8 },
        ),
        async (startSteps, orders) => {
          const step = new Decimal('0.001');
          const start = step.mul(startSteps);
          r.venue.control.setPosition('BTCUSDT', formatAmount(start));
          const firstId = r.venue.control.orders().at(-1)?.orderId ?? 0;
          for (const o of orders) {
            const before = new Decimal(r.venue.control.position('BTCUSDT').positionAmt);
            const qty = step.mul(o.steps);
            await r.client
              .placeOrder({
                symbol: 'BTCUSDT',
                side: o.buy ? 'BUY' : 'SELL',
                quantity: formatAmount(qty),
                reduceOnly: o.reduceOnly,
              })
              .catch(() => null);
            const after = new Decimal(r.venue.control.position('BTCUSDT').positionAmt);
            if (o.reduceOnly) {
              expect(after.abs().lte(before.abs())).toBe(true);
              expect(
                after.isZero() || before.isZero() || after.isNegative() === before.isNegative(),
              ).toBe(true);
            }
          }
          const fills = r.venue.control.orders(firstId).filter((o) => o.status === 'FILLED');
          const net = fills.reduce(
            (sum, f) => sum.plus(new Decimal(f.positionAfter).minus(f.positionBefore)),
            new Decimal(0),
          );
          expect(formatAmount(start.plus(net))).toBe(
            r.venue.control.position('BTCUSDT').positionAmt,
          );
        },
      ),
      { numRuns: 25 },
    );
  });
});
