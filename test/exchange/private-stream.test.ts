/**
 * Binance's 2026 user-data hosts, on the simulated venue over real WebSockets: user data
 * lives under the PRIVATE base (`…/private`, the client appends `/ws/<listenKey>`); the
 * retired `/ws/<listenKey>` completes the handshake and then says nothing (LESSONS #22).
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { formatAmount } from '../../src/domain/amount.js';
import { UserDataStream, type UserDataEvent } from '../../src/exchange/user-data-stream.js';
import { silentLogger } from '../../src/observability/logger.js';
import { type Rig, startRig } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

let rig: Rig | null = null;
const streams: UserDataStream[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await Promise.all(streams.splice(0).map((s) => s.stop()));
  await rig?.venue.close();
  rig = null;
});

type AccountUpdate = Extract<UserDataEvent, { type: 'account_update' }>;

function open(wsUrl: string, r: Rig) {
  const stream = new UserDataStream({
    wsUrl,
    listenKeys: r.client,
    logger: silentLogger(),
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
  });
  streams.push(stream);
  const events: UserDataEvent[] = [];
  for (const type of ['connected', 'disconnected', 'account_update', 'order_update'] as const)
    stream.on(type, (e) => events.push(e));
  stream.start();
  return { stream, events };
}

async function until(check: () => boolean, what: string): Promise<void> {
  await waitFor(check, { what });
}

/** A raw socket; collects its frames. */
async function rawSocket(url: string): Promise<{ frames: string[]; socket: WebSocket }> {
  const socket = new WebSocket(url);
  sockets.push(socket);
  const frames: string[] = [];
  socket.on('message', (data: Buffer) => frames.push(data.toString('utf8')));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { frames, socket };
}

describe('user data on the private base', () => {
  it('the venue serves user data under /private; the client appends /ws/<listenKey> and receives ACCOUNT_UPDATE', async () => {
    rig = await startRig();
    expect(rig.venue.wsUrl).toMatch(/\/private$/);
    const { events } = open(rig.venue.wsUrl, rig);
    await until(() => events.some((e) => e.type === 'connected'), 'connected');
    rig.venue.control.externalTrade('BTCUSDT', '0.004');
    await until(() => events.some((e) => e.type === 'account_update'), 'ACCOUNT_UPDATE');
    const update = events.find((e) => e.type === 'account_update') as AccountUpdate;
    expect(update.positions[0]?.symbol).toBe('BTCUSDT');
    expect(formatAmount(update.positions[0]!.positionAmt)).toBe('0.004');
  });

  it('the retired path completes the handshake and then is silent, while the private path pushes the same change', async () => {
    rig = await startRig();
    const retired = open(rig.venue.retiredWsUrl, rig);
    const live = open(rig.venue.wsUrl, rig);
    await until(
      () =>
        retired.events.some((e) => e.type === 'connected') &&
        live.events.some((e) => e.type === 'connected'),
      'both connected',
    );
    expect(retired.stream.stats().connected).toBe(true);
    rig.venue.control.externalTrade('ETHUSDT', '-1');
    rig.venue.control.externalTrade('ETHUSDT', '0.5');
    await until(
      () => live.events.filter((e) => e.type === 'account_update').length === 2,
      'two pushes on the private path',
    );
    // Pushes go to every socket in one loop: the retired one got them or never will.
    expect(retired.events.filter((e) => e.type !== 'connected')).toEqual([]);
    expect(retired.stream.stats()).toMatchObject({ connected: true, malformed: 0, ignored: 0 });
  });

  it('the private base also takes ?listenKey=…&events=… and then pushes only those events', async () => {
    rig = await startRig();
    const key = await rig.client.createListenKey();
    const base = rig.venue.wsUrl;
    const onlyOrders = await rawSocket(`${base}/ws?listenKey=${key}&events=ORDER_TRADE_UPDATE`);
    const all = await rawSocket(`${base}/ws?listenKey=${key}`);
    rig.venue.control.setPosition('BTCUSDT', '0.01');
    await rig.client.placeOrder({
      symbol: 'BTCUSDT',
      side: 'SELL',
      quantity: '0.004',
      reduceOnly: true,
    });
    const events = (frames: string[]) => frames.map((f) => (JSON.parse(f) as { e: string }).e);
    await until(
      () => events(all.frames).length === 3 && onlyOrders.frames.length === 1,
      'three events on the unfiltered socket, one on the filtered one',
    );
    expect(events(all.frames)).toEqual(['ACCOUNT_UPDATE', 'ORDER_TRADE_UPDATE', 'ACCOUNT_UPDATE']);
    expect(events(onlyOrders.frames)).toEqual(['ORDER_TRADE_UPDATE']);
  });

  it('refuses a key that is not the active one, on every path', async () => {
    rig = await startRig();
    await rig.client.createListenKey();
    for (const url of [
      `${rig.venue.wsUrl}/ws/not-the-key`,
      `${rig.venue.retiredWsUrl}/ws/not-the-key`,
      `${rig.venue.wsUrl}/ws?listenKey=not-the-key`,
      `${rig.venue.retiredWsUrl}/stream`,
    ]) {
      await expect(rawSocket(url), url).rejects.toThrow(/400/);
    }
  });
});
