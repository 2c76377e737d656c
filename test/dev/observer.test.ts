/**
 * The demo observer reads each symbol through the shared symbol-state reader (real Redis):
 * the ledger with ε of its lot size and a key of the wrong type as invalid — what
 * `posguard status` shows for the same keys.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DemoObserver } from '../../src/dev/demo/observer.js';
import { silentLogger } from '../../src/observability/logger.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';

let t: TestRedis;
const NOW = 1_800_000_000_000;

beforeEach(() => {
  t = openTestRedis('observer');
});
afterEach(() => t.close());

describe('demo observer (real Redis)', () => {
  it('shows snapshot, ledger, state and hold as every other reader decodes them', async () => {
    const { redis, keys } = t;
    await redis.hset(keys.snapshot('BTCUSDT'), { position_amt: '0', ts_ms: String(NOW - 2500) });
    // FLAT with 0.0004 left: within ε = half the 0.001 step, so flat (SPEC §4).
    await redis.hset(keys.ledger('BTCUSDT'), { ledger_amt: '0.0004', ledger_side: 'FLAT' });
    await redis.hset(keys.symbolLotSize('BTCUSDT'), { step_size: '0.001', min_qty: '0.001' });
    await redis.hset(keys.reconcileState('BTCUSDT'), {
      status: 'HOLD',
      reason: 'qty_mismatch_no_evidence',
      hold_by: 'p34',
    });
    await redis.set(keys.hold('BTCUSDT'), '1', 'PX', 60_000);
    await redis.set(keys.snapshot('ETHUSDT'), 'not a hash'); // LESSONS #18
    await redis.hset(keys.ledger('ETHUSDT'), { ledger_amt: '-1.5', ledger_side: 'SHORT' });
    const observer = new DemoObserver({
      reader: redis,
      redis,
      keys,
      symbols: ['BTCUSDT', 'ETHUSDT'],
      logger: silentLogger(),
      nowMs: () => NOW,
    });
    await observer.refresh();
    const [btc, eth] = observer.views();
    expect(btc).toMatchObject({
      symbol: 'BTCUSDT',
      exchange: '0',
      snapshotAgeSec: 2.5,
      snapshotTakenMs: NOW - 2500,
      ledger: '0',
      status: 'HOLD',
      reason: 'qty_mismatch_no_evidence',
      holdBy: 'p34',
    });
    expect(btc?.holdTtlSec).toBeGreaterThan(50);
    expect(eth).toEqual({
      symbol: 'ETHUSDT',
      exchange: 'invalid',
      snapshotAgeSec: null,
      snapshotTakenMs: null,
      ledger: '-1.5',
      status: '—',
      reason: '',
      holdTtlSec: null,
      holdBy: '',
    });
  });
});
