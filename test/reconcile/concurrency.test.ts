/**
 * Two engines at once, restarts and reused evidence: one repair per fill, ever, and no
 * duplicate events per episode (SPEC §7 design decision 5). Runs on its own redis-server:
 * other test files' SCRIPT FLUSH would change how the two engines interleave.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/dev/redis-server.js';
import { buildKeys } from '../../src/redis/keys.js';
import { type TestRedis, uniquePrefix } from '../helpers/redis.js';
import { T0, ledgerFields, snapshotFields, writeSymbol, writeRepairableDrift } from './fixtures.js';
import { ManualClock, makeEngine, metricValue, readEvents } from './harness.js';
import { testTerm } from '../helpers/terms.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
const ENV = { P34_ALLOWLIST: SYMBOLS.join(',') };
/** BTC's repairable drift: the fill 5 s before T0, the snapshot 0.5 s before. */
const DRIFT_AT = { snapshotMs: T0 - 500, fillMs: T0 - 5000 };

describe('reconcile concurrency', () => {
  let server: EmbeddedRedis;
  let t: TestRedis;
  let clock: ManualClock;

  beforeAll(async () => {
    server = await startEmbeddedRedis();
  });
  afterAll(() => server.stop());
  beforeEach(() => {
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    const prefix = uniquePrefix('rx');
    t = {
      redis,
      url: server.url,
      prefix,
      keys: buildKeys(prefix),
      close: async () => void (await redis.quit()),
    };
    clock = new ManualClock(T0);
  });
  afterEach(() => t.close());

  it('two engines on the same symbols: one repair per fill, one event per episode', async () => {
    // BTC: repairable drift. ETH: drift without evidence (hold). SOL: side mismatch.
    await writeRepairableDrift(t.redis, t.keys, 'BTCUSDT', DRIFT_AT);
    await writeSymbol(t.redis, t.keys, 'ETHUSDT', {
      snapshot: snapshotFields('2', T0 - 500),
      ledger: ledgerFields('1.5', T0 - 60_000),
    });
    await writeSymbol(t.redis, t.keys, 'SOLUSDT', {
      snapshot: snapshotFields('10', T0 - 500),
      ledger: ledgerFields('-10', T0 - 60_000),
    });
    // Two writers in one term (two terms would fence the older one, SPEC §11): the scripts'
    // compare-and-set keeps their interleaved cycles exact.
    const term = await testTerm(t.redis, t.keys, 'reconcile', 'both');
    const a = makeEngine(t.redis, t.keys, clock, { url: t.url, env: ENV, term });
    const b = makeEngine(t.redis, t.keys, clock, { url: t.url, env: ENV, term });
    for (let i = 0; i < 10; i += 1) {
      await Promise.all([a.engine.runOnce(), b.engine.runOnce()]);
      clock.advance(1000);
      for (const [sym, amt] of [
        ['BTCUSDT', '0.1'],
        ['ETHUSDT', '2'],
        ['SOLUSDT', '10'],
      ] as const) {
        await writeSymbol(t.redis, t.keys, sym, { snapshot: snapshotFields(amt, clock.ms - 300) });
      }
    }
    const events = (await readEvents(t.redis, t.keys)).map(
      (e) => `${e.fields.symbol}:${e.fields.event}`,
    );
    expect(events.filter((e) => e === 'BTCUSDT:AUTO_REPAIR')).toHaveLength(1);
    expect(events.filter((e) => e.startsWith('ETHUSDT:'))).toEqual(['ETHUSDT:HOLD_SET']);
    expect(events.filter((e) => e.startsWith('SOLUSDT:'))).toEqual([
      'SOLUSDT:HOLD_SET',
      'SOLUSDT:MANUAL_REQUIRED',
    ]);
    expect(await t.redis.hget(t.keys.ledger('BTCUSDT'), 'version')).toBe('2');
    const repairs =
      (await metricValue(a.metrics, 'p34_reconcile_auto_repair_total', { symbol: 'BTCUSDT' })) +
      (await metricValue(b.metrics, 'p34_reconcile_auto_repair_total', { symbol: 'BTCUSDT' }));
    expect(repairs).toBe(1);
    // Both engines really raced for the repair (both read before either wrote): the loser's
    // ledger write was refused by the compare-and-set.
    const refused =
      (await metricValue(a.metrics, 'p34_repair_conflict_total', { symbol: 'BTCUSDT' })) +
      (await metricValue(b.metrics, 'p34_repair_conflict_total', { symbol: 'BTCUSDT' }));
    expect(refused).toBe(1);
    const episodes =
      (await metricValue(a.metrics, 'p34_reconcile_drift_total', { symbol: 'ETHUSDT' })) +
      (await metricValue(b.metrics, 'p34_reconcile_drift_total', { symbol: 'ETHUSDT' }));
    expect(episodes).toBe(1);
  });

  it('the same fill never justifies two repairs, also across an engine restart', async () => {
    const entry = await writeRepairableDrift(t.redis, t.keys, 'BTCUSDT', DRIFT_AT);
    const first = makeEngine(t.redis, t.keys, clock, { url: t.url });
    await first.engine.runOnce();
    expect(await t.redis.hget(t.keys.reconcileState('BTCUSDT'), 'status')).toBe('REPAIRED');

    // The same drift shows up again (someone restored the old ledger): same fill, same size.
    const drifted = ledgerFields('0.101', T0 - 60_000, { version: 5 });
    await t.redis.hset(t.keys.ledger('BTCUSDT'), drifted);
    clock.advance(1000);
    await writeSymbol(t.redis, t.keys, 'BTCUSDT', {
      snapshot: snapshotFields('0.1', clock.ms - 300),
    });
    await first.engine.runOnce();
    expect(await t.redis.hget(t.keys.reconcileState('BTCUSDT'), 'reason')).toBe(
      'qty_mismatch_no_evidence',
    );

    // A fresh engine (restart) rebuilds its window from the stream and sees the NX marker.
    const restarted = makeEngine(t.redis, t.keys, clock, { url: t.url });
    clock.advance(1000);
    await writeSymbol(t.redis, t.keys, 'BTCUSDT', {
      snapshot: snapshotFields('0.1', clock.ms - 300),
    });
    const report = await restarted.engine.runOnce();
    expect(report.outcomes[0]?.decision.reason).toBe('qty_mismatch_no_evidence');
    expect(await t.redis.hget(t.keys.ledger('BTCUSDT'), 'ledger_amt')).toBe('0.101');
    const repairs = (await readEvents(t.redis, t.keys)).filter(
      (e) => e.fields.event === 'AUTO_REPAIR',
    );
    expect(repairs).toHaveLength(1);
    expect(repairs[0]?.fields.evidence_entry_ids).toBe(entry);
  });

  it('even without the in-memory memory, the NX marker refuses a second repair', async () => {
    await writeRepairableDrift(t.redis, t.keys, 'BTCUSDT', DRIFT_AT);
    // An engine that read its window before the first repair happened elsewhere (in the same
    // term: an engine of an older term would be fenced before the marker is even checked).
    const term = await testTerm(t.redis, t.keys, 'reconcile', 'both');
    const stale = makeEngine(t.redis, t.keys, clock, { url: t.url, term });
    await stale.engine.runOnce({ dryRun: true });
    const other = makeEngine(t.redis, t.keys, clock, { url: t.url, term });
    await other.engine.runOnce();
    await t.redis.hset(
      t.keys.ledger('BTCUSDT'),
      ledgerFields('0.101', T0 - 60_000, { version: 9 }),
    );
    const report = await stale.engine.runOnce();
    expect(report.outcomes[0]?.commit).toMatchObject({ code: 'evidence_used' });
    expect(await t.redis.hget(t.keys.ledger('BTCUSDT'), 'ledger_amt')).toBe('0.101');
    expect(
      await metricValue(stale.metrics, 'p34_repair_conflict_total', {
        symbol: 'BTCUSDT',
        code: 'evidence_used',
      }),
    ).toBe(1);
    // Next cycle it decides again, knowing the entry is used: a hold, not a repair.
    clock.advance(1000);
    await writeSymbol(t.redis, t.keys, 'BTCUSDT', {
      snapshot: snapshotFields('0.1', clock.ms - 300),
    });
    const next = await stale.engine.runOnce();
    expect(next.outcomes[0]?.decision.reason).toBe('qty_mismatch_no_evidence');
  });
});
