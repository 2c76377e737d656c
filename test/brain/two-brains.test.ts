/**
 * Two brains (SPEC §11), in one process against a real Redis and the simulated venue:
 * exactly one polls (the brain-poller leader) while both answer plans; a fill applied by
 * the standby still refreshes the snapshot at once (the standby asks the leader over
 * pub/sub); when the leader stops, the standby takes over the poller.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { startBrain, type BrainService } from '../../src/brain/service.js';
import { API_KEY, API_SECRET, type Rig, startRig } from '../exchange/helpers.js';
import { captureLogs } from '../helpers/logs.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { addPlan, waitForPermit, writeLedger } from './helpers.js';

let t: TestRedis;
let rig: Rig;
const brains: BrainService[] = [];

function config(): ReturnType<typeof loadConfig> {
  return loadConfig({
    REDIS_URL: t.url,
    KEY_PREFIX: t.prefix,
    P33_ALLOWLIST: 'BTCUSDT',
    P33_POLL_SEC: '30', // only start-up polls and fill refreshes within the test
    P33_METRICS_PORT: '0',
    P33_COOLDOWN_SEC: '0',
    BINANCE_BASE_URL: rig.venue.baseUrl,
    BINANCE_WS_URL: rig.venue.wsUrl,
    BINANCE_API_KEY: API_KEY,
    BINANCE_API_SECRET: API_SECRET,
    POSGUARD_LEASE_MS: '600',
  });
}

async function start(id: string): Promise<BrainService> {
  const brain = await startBrain({
    config: config(),
    logger: captureLogs('info', id).logger,
    consumer: `brain-${id}`,
    instanceId: id,
  });
  brains.push(brain);
  return brain;
}

const polls = async (brain: BrainService): Promise<number> => {
  const metric = await brain.metrics.registry.getSingleMetric('p33_poll_total')?.get();
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
};

beforeEach(async () => {
  t = openTestRedis('two');
  rig = await startRig({ symbols: ['BTCUSDT'] });
});

afterEach(async () => {
  for (const b of brains.splice(0)) await b.stop();
  await rig.venue.close();
  await t.close();
});

describe('two brains', () => {
  it('one polls, both answer; a fill applied by the standby refreshes the snapshot through the leader; the standby takes over', async () => {
    rig.venue.control.setPosition('BTCUSDT', '0.05');
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '0.05');
    await t.redis.set(t.keys.reconcileHeartbeat, '{"ts_ms":1}', 'PX', 600_000);
    const a = await start('brain-a');
    const b = await start('brain-b');
    expect(a.leadsPoller()).toBe(true);
    expect(b.leadsPoller()).toBe(false);
    await waitFor(async () =>
      (await t.redis.hget(t.keys.snapshot('BTCUSDT'), 'position_amt')) === '0.05' ? true : null,
    );
    expect(await polls(b)).toBe(0);

    // The leader stops applying fills: the standby's updater takes the result.
    await a.pauseLedgerUpdates();
    const order = await rig.client.placeOrder({
      symbol: 'BTCUSDT',
      side: 'SELL',
      quantity: '0.02',
      reduceOnly: true,
    });
    await t.redis.xadd(
      t.keys.applyResultStream,
      '*',
      ...['plan_id', 'two-1', 'symbol', 'BTCUSDT', 'executed', 'True', 'side', 'SELL'],
      ...['filled_qty', '0.02', 'order_id', order.orderId],
    );
    await waitFor(async () =>
      (await t.redis.hget(t.keys.ledger('BTCUSDT'), 'ledger_amt')) === '0.03' ? true : null,
    );
    // P33_POLL_SEC is 30 s: only the refresh the standby asked for brings the new amount.
    await waitFor(
      async () =>
        (await t.redis.hget(t.keys.snapshot('BTCUSDT'), 'position_amt')) === '0.03' ? true : null,
      5000,
    );
    expect(await polls(b)).toBe(0);
    a.resumeLedgerUpdates();

    // Both answer plans (one consumer group).
    for (let i = 0; i < 6; i += 1) await addPlan(t.redis, t.keys, `two-p${i}`, 'BTCUSDT');
    for (let i = 0; i < 6; i += 1) await waitForPermit(t.redis, t.keys, `two-p${i}`);

    // The leader stops (releases its lease): the standby polls from now on.
    await a.stop();
    brains.splice(brains.indexOf(a), 1);
    await waitFor(() => (b.leadsPoller() ? true : null), 5000);
    await waitFor(async () => ((await polls(b)) > 0 ? true : null), 5000);
    expect(await t.redis.get(t.keys.lease('brain-poller'))).toBe('brain-b');
  });
});
