/**
 * The brain's state gauges read Redis through the shared symbol-state reader (real Redis):
 * the ledger is decoded with ε of its lot size, as the brain's rules, `posguard status` and
 * the web page decode it, so `p33_ledger_amt` never says "no valid ledger" for a ledger the
 * rules accept.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBrainMetrics, type BrainMetrics } from '../../src/brain/metrics.js';
import { READ_WAIT_MS, StateGauges } from '../../src/brain/state-gauges.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ManualClock } from '../helpers/manual-time.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';

let t: TestRedis;
let metrics: BrainMetrics;
const NOW = 1_800_000_000_000;

beforeEach(() => {
  t = openTestRedis('gauges');
  metrics = createBrainMetrics();
});
afterEach(() => t.close());

async function gauge(
  name: 'ledgerAmt' | 'snapshotAgeSec',
): Promise<Record<string, number | undefined>> {
  const values = (await metrics[name].get()).values;
  return Object.fromEntries(values.map((v) => [String(v.labels.symbol), v.value]));
}

describe('state gauges (real Redis)', () => {
  it('decode the ledger with ε of the lot size, and show what every part reads as', async () => {
    const { redis, keys } = t;
    // FLAT with 0.0004 left: within ε = half the 0.001 step, so flat (SPEC §4), not invalid.
    await redis.hset(keys.ledger('BTCUSDT'), { ledger_amt: '0.0004', ledger_side: 'FLAT' });
    await redis.hset(keys.symbolLotSize('BTCUSDT'), { step_size: '0.001', min_qty: '0.001' });
    await redis.hset(keys.snapshot('BTCUSDT'), { position_amt: '0', ts_ms: String(NOW - 4000) });
    await redis.hset(keys.ledger('ETHUSDT'), { ledger_amt: '-1.25', ledger_side: 'SHORT' });
    await redis.set(keys.snapshot('ETHUSDT'), 'not a hash'); // LESSONS #18
    const gauges = new StateGauges({
      redis,
      keys,
      allowlist: ['BTCUSDT', 'ETHUSDT', 'XRPUSDT'],
      clock: { nowMs: () => NOW },
      metrics,
      logger: silentLogger(),
    });
    await gauges.refresh();
    expect(await gauge('ledgerAmt')).toEqual({ BTCUSDT: 0, ETHUSDT: -1.25 });
    expect(await gauge('snapshotAgeSec')).toEqual({
      BTCUSDT: 4,
      ETHUSDT: Infinity,
      XRPUSDT: Infinity,
    });
    expect((await metrics.loopErrorsTotal.get()).values).toEqual([]);
  });

  it('a read Redis does not answer holds the scrape READ_WAIT_MS of the injected clock, no longer', async () => {
    const sockets: Socket[] = [];
    const server: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    // Accepts the connection and never answers: a stalled Redis.
    const stalled = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    stalled.on('error', () => undefined);
    try {
      const clock = new ManualClock(NOW);
      const gauges = new StateGauges({
        redis: stalled,
        keys: t.keys,
        allowlist: ['BTCUSDT'],
        clock,
        scheduler: clock,
        metrics,
        logger: silentLogger(),
      });
      const scrape = gauges.refresh();
      expect(clock.pending()).toEqual([NOW + READ_WAIT_MS]);
      clock.advance(READ_WAIT_MS);
      await scrape;
      // The scrape shows what is known (nothing yet: +Inf) while the read still hangs.
      expect(await gauge('snapshotAgeSec')).toEqual({ BTCUSDT: Infinity });
      expect(clock.pending()).toEqual([]);
    } finally {
      stalled.disconnect();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
