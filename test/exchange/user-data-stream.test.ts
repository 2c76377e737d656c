import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatAmount } from '../../src/domain/amount.js';
import { UserDataStream, type UserDataEvent } from '../../src/exchange/user-data-stream.js';
import { parseStreamMessage } from '../../src/exchange/user-data-schemas.js';
import { silentLogger } from '../../src/observability/logger.js';
import { type Rig, startRig } from './helpers.js';
import { waitFor as waitUntil } from '../helpers/wait.js';
import { assertProperty } from '../helpers/property.js';

let rig: Rig | null = null;
let stream: UserDataStream | null = null;
afterEach(async () => {
  await stream?.stop();
  await rig?.venue.close();
  stream = null;
  rig = null;
});

/** Collects events and waits for the n-th of a type. */
function recorder(s: UserDataStream) {
  const events: UserDataEvent[] = [];
  for (const type of ['connected', 'disconnected', 'account_update', 'order_update'] as const)
    s.on(type, (e) => events.push(e));
  const waitFor = (type: UserDataEvent['type'], count = 1): Promise<UserDataEvent[]> =>
    waitUntil(
      () => {
        const matching = events.filter((e) => e.type === type);
        return matching.length >= count && matching;
      },
      { what: () => `${count} × ${type}; saw ${events.map((e) => e.type).join(',')}` },
    );
  return { events, waitFor };
}

async function openStream(options: { keepAliveMs?: number } = {}) {
  rig = await startRig();
  stream = new UserDataStream({
    wsUrl: rig.venue.wsUrl,
    listenKeys: rig.client,
    logger: silentLogger(),
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    ...options,
  });
  const rec = recorder(stream);
  stream.start();
  await rec.waitFor('connected');
  return { rig, stream, ...rec };
}

describe('UserDataStream against the simulated venue', () => {
  it('receives ACCOUNT_UPDATE and ORDER_TRADE_UPDATE after an order, and after an external trade', async () => {
    const { rig: r, waitFor } = await openStream();
    r.venue.control.setPosition('BTCUSDT', '0.010');
    await r.client.placeOrder({
      symbol: 'BTCUSDT',
      side: 'SELL',
      quantity: '0.004',
      reduceOnly: true,
      newClientOrderId: 'plan-9',
    });
    const orders = await waitFor('order_update');
    expect(orders[0]).toMatchObject({
      symbol: 'BTCUSDT',
      side: 'SELL',
      status: 'FILLED',
      clientOrderId: 'plan-9',
      reduceOnly: true,
    });
    const accounts = (await waitFor('account_update', 2)) as Extract<
      UserDataEvent,
      { type: 'account_update' }
    >[];
    expect(accounts[1]!.reason).toBe('ORDER');
    expect(formatAmount(accounts[1]!.positions[0]!.positionAmt)).toBe('0.006');

    r.venue.control.externalTrade('BTCUSDT', '-0.016');
    const after = (await waitFor('account_update', 3)) as Extract<
      UserDataEvent,
      { type: 'account_update' }
    >[];
    expect(after[2]!.positions[0]).toMatchObject({ symbol: 'BTCUSDT', positionSide: 'BOTH' });
    expect(formatAmount(after[2]!.positions[0]!.positionAmt)).toBe('-0.01');
  });

  it('reconnects after the socket is dropped and emits connected again', async () => {
    const { rig: r, stream: s, waitFor } = await openStream();
    expect(r.venue.control.dropWebSockets()).toBe(1);
    await waitFor('disconnected');
    await waitFor('connected', 2);
    expect(s.stats()).toMatchObject({ connected: true, connects: 2 });
    r.venue.control.externalTrade('ETHUSDT', '1');
    const updates = (await waitFor('account_update')) as Extract<
      UserDataEvent,
      { type: 'account_update' }
    >[];
    expect(formatAmount(updates[0]!.positions[0]!.positionAmt)).toBe('1');
  });

  it('renews the listenKey after listenKeyExpired', async () => {
    const { rig: r, waitFor } = await openStream();
    const before = r.venue.control.requestCounts()['/fapi/v1/listenKey'] ?? 0;
    r.venue.control.expireListenKey();
    await waitFor('connected', 2);
    expect(r.venue.control.requestCounts()['/fapi/v1/listenKey']).toBeGreaterThan(before);
    r.venue.control.externalTrade('BTCUSDT', '0.002');
    await waitFor('account_update');
  });

  it('keeps the listenKey alive with PUT on its interval', async () => {
    const { rig: r } = await openStream({ keepAliveMs: 50 });
    await waitUntil(() => (r.venue.control.requestCounts()['/fapi/v1/listenKey'] ?? 0) >= 3, {
      what: 'three listenKey requests (create + keep-alive PUTs)',
    });
  });

  it('keeps retrying while the venue refuses listenKeys, then connects', async () => {
    rig = await startRig();
    rig.venue.control.addFault({ kind: 'http_5xx', path: '/fapi/v1/listenKey', count: 3 });
    stream = new UserDataStream({
      wsUrl: rig.venue.wsUrl,
      listenKeys: rig.client,
      logger: silentLogger(),
      reconnectMinMs: 10,
      reconnectMaxMs: 50,
    });
    const rec = recorder(stream);
    stream.start();
    await rec.waitFor('connected');
    expect(rig.venue.control.requestCounts()['/fapi/v1/listenKey']).toBe(4);
  });
});

describe('user-data stream messages', () => {
  it('classifies malformed frames without throwing', () => {
    expect(parseStreamMessage('not json').type).toBe('malformed');
    expect(
      parseStreamMessage(
        '{"e":"ACCOUNT_UPDATE","E":1,"a":{"P":[{"s":"BTCUSDT","pa":{},"ps":"BOTH"}]}}',
      ).type,
    ).toBe('malformed');
    expect(
      parseStreamMessage(
        '{"e":"ACCOUNT_UPDATE","E":1,"a":{"P":[{"s":"BTCUSDT","pa":"-0.5","ps":"BOTH"}]}}',
      ),
    ).toMatchObject({ type: 'account_update' });
    expect(parseStreamMessage('{"e":"MARGIN_CALL","E":1}').type).toBe('ignored');
    expect(parseStreamMessage('{"e":"listenKeyExpired","E":1}').type).toBe('listen_key_expired');
  });

  it('never throws on arbitrary input', () => {
    assertProperty(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.anything().map((v) => JSON.stringify({ e: 'ACCOUNT_UPDATE', E: 1, a: v }) ?? ''),
        ),
        (raw) => {
          expect(() => parseStreamMessage(raw)).not.toThrow();
        },
      ),
    );
  });
});
