/**
 * The user-data stream in the running brain (SPEC §3, LESSONS #22), against the simulated
 * venue over real HTTP and WebSocket and a real Redis: the private base pushes
 * ACCOUNT_UPDATE; the retired path connects and stays silent, and the watchdog declares it
 * (one log line, `p33_user_stream_up` 0, `p33_user_stream_silent_total` 1, a reconnect)
 * while REST keeps the snapshots right; a stream that pushes again is a source again.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { API_KEY, API_SECRET, type Rig, startRig } from '../exchange/helpers.js';
import { loadConfig } from '../../src/config/config.js';
import { startBrain, type BrainService } from '../../src/brain/service.js';
import { type CapturedLogs, captureLogs } from '../helpers/logs.js';
import { waitFor } from '../helpers/wait.js';

let t: TestRedis;
let rig: Rig;
let service: BrainService | null;
let logs: CapturedLogs;

async function start(wsUrl: string, pollSec = '0.2'): Promise<BrainService> {
  service = await startBrain({
    config: loadConfig({
      REDIS_URL: t.url,
      KEY_PREFIX: t.prefix,
      P33_ALLOWLIST: 'BTCUSDT,ETHUSDT',
      P33_POLL_SEC: pollSec,
      P33_METRICS_PORT: '0',
      P33_USER_STREAM: 'true',
      BINANCE_BASE_URL: rig.venue.baseUrl,
      BINANCE_WS_URL: wsUrl,
      BINANCE_API_KEY: API_KEY,
      BINANCE_API_SECRET: API_SECRET,
    }),
    logger: logs.logger,
    consumer: 'brain-test',
  });
  return service;
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await service!.metrics.registry.getSingleMetric(name)?.get();
  return (
    m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ??
    0
  );
}

const silentLines = () => logs.lines.filter((l) => l.msg.includes('connected but silent')).length;
const listenKeyPosts = () =>
  rig.venue.control
    .requestLog()
    .filter((r) => r.path === '/fapi/v1/listenKey' && r.method === 'POST').length;
const snapshot = (symbol: string) => t.redis.hgetall(t.keys.snapshot(symbol));

/** Waits until `n` more successful polls ran (each writes every symbol). */
async function polls(n: number): Promise<void> {
  const target = (await metric('p33_poll_total', { outcome: 'ok' })) + n;
  await waitFor(async () =>
    (await metric('p33_poll_total', { outcome: 'ok' })) >= target ? true : null,
  );
}

beforeEach(async () => {
  t = openTestRedis('usw');
  rig = await startRig({ symbols: ['BTCUSDT', 'ETHUSDT'] });
  service = null;
  logs = captureLogs('info', 'brain-test');
});

afterEach(async () => {
  await service?.stop();
  await rig.venue.close();
  await t.close();
});

describe('user-data stream watchdog in the brain', () => {
  it('the private base pushes ACCOUNT_UPDATE: written at once (source ws), up, never declared silent', async () => {
    await start(rig.venue.wsUrl, '60');
    await waitFor(async () => ((await metric('p33_user_stream_up')) === 1 ? true : null));
    rig.venue.control.externalTrade('BTCUSDT', '0.012');
    await waitFor(async () => ((await snapshot('BTCUSDT')).position_amt === '0.012' ? true : null));
    expect((await snapshot('BTCUSDT')).source).toBe('ws'); // the next REST poll is a minute away
    expect(await metric('p33_user_stream_up')).toBe(1);
    expect(await metric('p33_user_stream_silent_total')).toBe(0);
  });

  it('with fast REST polls racing the pushes, changes the stream pushed are never taken for silence', async () => {
    await start(rig.venue.wsUrl);
    await waitFor(async () => ((await metric('p33_user_stream_up')) === 1 ? true : null));
    await polls(2);
    for (const amount of ['0.01', '-0.02', '0.005', '0']) {
      rig.venue.control.setPosition('ETHUSDT', amount);
      await polls(2);
    }
    await polls(12); // more than the 2 s grace after the last change
    expect(await metric('p33_user_stream_silent_total')).toBe(0);
    expect(await metric('p33_user_stream_up')).toBe(1);
    expect(silentLines()).toBe(0);
  });

  it('the retired path: handshake, then silence → declared once (metric, one log line), reconnected; REST keeps the snapshots right', async () => {
    await start(rig.venue.retiredWsUrl);
    await waitFor(() => Promise.resolve(rig.venue.control.wsConnections() === 1 ? true : null));
    await polls(2); // the symbols' state is known while the stream is connected
    rig.venue.control.setPosition('BTCUSDT', '0.25');
    await waitFor(async () => ((await snapshot('BTCUSDT')).position_amt === '0.25' ? true : null));
    expect((await snapshot('BTCUSDT')).source).toBe('rest');
    await waitFor(async () => ((await metric('p33_user_stream_silent_total')) === 1 ? true : null));
    expect(await metric('p33_user_stream_up')).toBe(0);
    expect(silentLines()).toBe(1);
    await waitFor(() => Promise.resolve(listenKeyPosts() >= 2 ? true : null)); // reconnected

    // Still silent after the reconnect: found again and reconnected, not logged or counted again.
    await polls(3);
    rig.venue.control.setPosition('BTCUSDT', '-0.1');
    await waitFor(async () => ((await snapshot('BTCUSDT')).position_amt === '-0.1' ? true : null));
    await waitFor(() => Promise.resolve(listenKeyPosts() >= 3 ? true : null));
    expect(await metric('p33_user_stream_silent_total')).toBe(1);
    expect(silentLines()).toBe(1);
    expect(await metric('p33_user_stream_up')).toBe(0);
    expect((await snapshot('BTCUSDT')).position_amt).toBe('-0.1');
    expect((await snapshot('ETHUSDT')).position_amt).toBe('0');
  });

  it('a stream that went quiet is declared silent, and is up again once it pushes', async () => {
    await start(rig.venue.wsUrl);
    await waitFor(async () => ((await metric('p33_user_stream_up')) === 1 ? true : null));
    await polls(2);
    rig.venue.control.muteUserStream(true);
    rig.venue.control.setPosition('ETHUSDT', '1.5');
    await waitFor(async () => ((await metric('p33_user_stream_silent_total')) === 1 ? true : null));
    expect(await metric('p33_user_stream_up')).toBe(0);
    expect((await snapshot('ETHUSDT')).position_amt).toBe('1.5');
    rig.venue.control.muteUserStream(false);
    await waitFor(() => Promise.resolve(listenKeyPosts() >= 2 ? true : null));
    await polls(2);
    rig.venue.control.externalTrade('ETHUSDT', '-0.5');
    await waitFor(async () => ((await metric('p33_user_stream_up')) === 1 ? true : null));
    expect(logs.lines.some((l) => l.msg.includes('pushes again'))).toBe(true);
    await waitFor(async () => ((await snapshot('ETHUSDT')).position_amt === '1' ? true : null));
    expect(await metric('p33_user_stream_silent_total')).toBe(1);
  });
});
