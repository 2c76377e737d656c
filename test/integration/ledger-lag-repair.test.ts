/**
 * The case evidence-based auto-repair exists for, with the real brain and the real engine:
 * the brain's ledger updater lags (paused), a fill lands on the exchange and in
 * apply.result, the snapshot shows it, and the engine repairs the ledger from that fill.
 * When the updater comes back it must NOT apply the same fill a second time.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { startBrain, type BrainService } from '../../src/brain/service.js';
import { silentLogger } from '../../src/observability/logger.js';
import { API_KEY, API_SECRET, type Rig, startRig } from '../exchange/helpers.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { makeEngine } from '../reconcile/harness.js';
import { pendingCount, waitFor } from '../brain/helpers.js';

const SYM = 'BTCUSDT';
const clock = { nowMs: () => Date.now() };

let t: TestRedis;
let rig: Rig;
let brain: BrainService;

beforeEach(async () => {
  t = openTestRedis('lag');
  rig = await startRig({ symbols: [SYM] });
  rig.venue.control.setPosition(SYM, '1');
  brain = await startBrain({
    config: loadConfig({
      REDIS_URL: t.url,
      KEY_PREFIX: t.prefix,
      P33_ALLOWLIST: SYM,
      P33_POLL_SEC: '0.1',
      P33_METRICS_PORT: '0',
      BINANCE_BASE_URL: rig.venue.baseUrl,
      BINANCE_WS_URL: rig.venue.wsUrl,
      BINANCE_API_KEY: API_KEY,
      BINANCE_API_SECRET: API_SECRET,
    }),
    logger: silentLogger(),
    consumer: 'lag-test',
  });
});

afterEach(async () => {
  await brain.stop();
  await rig.venue.close();
  await t.close();
});

async function snapshotTakenAfter(amount: string, afterMs: number): Promise<true | null> {
  const s = await t.redis.hgetall(t.keys.snapshot(SYM));
  return s.position_amt === amount && Number(s.ts_ms) > afterMs ? true : null;
}

describe('ledger updater lag → evidence repair → no double count', () => {
  it('repairs from the unapplied fill once; the resumed updater skips it', async () => {
    const engine = makeEngine(t.redis, t.keys, clock, {
      url: t.url,
      env: { P34_ALLOWLIST: SYM, P34_QTY_DRIFT_TOLERANCE_PCT: '1.0' },
    });
    await waitFor(() => snapshotTakenAfter('1', 0));
    await engine.engine.runOnce(); // LEDGER_INIT from the snapshot
    expect(await t.redis.hget(t.keys.ledger(SYM), 'ledger_amt')).toBe('1');

    await brain.pauseLedgerUpdates();
    // The Apply Layer closes 0.005 (0.5 %, inside the 1 % tolerance) and reports the fill.
    rig.venue.control.externalTrade(SYM, '-0.005');
    const fillMs = Date.now();
    const entryId = (await t.redis.xadd(
      t.keys.applyResultStream,
      '*',
      ...['plan_id', 'lag-1', 'symbol', SYM, 'executed', 'True', 'side', 'SELL'],
      ...['steps_results', JSON.stringify([{ order_id: 42, side: 'SELL', executed_qty: '0.005' }])],
      ...['ts_ms', String(fillMs)],
    )) as string;
    await waitFor(() => snapshotTakenAfter('0.995', fillMs));

    await engine.engine.runOnce();
    const repaired = await t.redis.hgetall(t.keys.ledger(SYM));
    expect(repaired).toMatchObject({ ledger_amt: '0.995', source: 'p34_auto' });
    expect(await t.redis.hget(t.keys.reconcileState(SYM), 'status')).toBe('REPAIRED');
    expect(await t.redis.exists(t.keys.hold(SYM))).toBe(0);

    brain.resumeLedgerUpdates();
    await waitFor(async () =>
      (await pendingCount(t.redis, t.keys.applyResultStream, 'p33-ledger')) === 0 ? true : null,
    );
    const after = await t.redis.hgetall(t.keys.ledger(SYM));
    expect(after.ledger_amt).toBe('0.995');
    expect(after.version).toBe(repaired.version);
    expect(await t.redis.exists(t.keys.resultApplied(entryId))).toBe(1);

    await engine.engine.runOnce();
    expect(await t.redis.hget(t.keys.reconcileState(SYM), 'status')).toBe('OK');
  });
});
