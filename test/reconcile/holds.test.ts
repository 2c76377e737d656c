/**
 * Hold lifecycle and ownership (SPEC §7, LESSONS #5, #15, #16): edge-triggered events and
 * episode counts, re-arming every cycle, and foreign holds that the engine never deletes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import { T0, ledgerFields, snapshotFields, writeSymbol } from './fixtures.js';
import { ManualClock, makeEngine, metricValue, readEvents } from './harness.js';

const SYM = 'BTCUSDT';
const HOLD_TTL_MS = 300_000;

describe('reconcile holds', () => {
  let t: TestRedis;
  let clock: ManualClock;

  beforeEach(() => {
    t = openTestRedis('rh');
    clock = new ManualClock(T0);
  });
  afterEach(() => t.close());

  /** One cycle a second later, with the brain's fresh snapshot of `exchange`. */
  async function cycle(h: ReturnType<typeof makeEngine>, exchange: string): Promise<void> {
    clock.advance(1000);
    await writeSymbol(t.redis, t.keys, SYM, { snapshot: snapshotFields(exchange, clock.ms - 300) });
    await h.engine.runOnce();
  }

  const events = async () =>
    (await readEvents(t.redis, t.keys)).map((e) => `${e.fields.event}:${e.fields.reason}`);

  it('a drift lasting 100 cycles: one HOLD_SET, one drift episode, and the hold never lapses', async () => {
    await writeSymbol(t.redis, t.keys, SYM, { ledger: ledgerFields('0.05', T0 - 60_000) });
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url });
    for (let i = 0; i < 100; i += 1) {
      // Age the hold artificially every 10 cycles. Someone else's expiry makes the hold
      // foreign (SPEC §7), but the engine still needs it: it raises the TTL back (shared).
      if (i % 10 === 5) await t.redis.pexpire(t.keys.hold(SYM), 2000);
      await cycle(h, '0.062');
      const pttl = await t.redis.pttl(t.keys.hold(SYM));
      expect(pttl).toBeGreaterThan(HOLD_TTL_MS - 10_000);
      expect(await t.redis.pttl(t.keys.holdOwner(SYM))).toBeGreaterThan(HOLD_TTL_MS - 10_000);
    }
    expect(await events()).toEqual(['HOLD_SET:qty_mismatch_no_evidence']);
    expect(
      await metricValue(h.metrics, 'p34_reconcile_drift_total', {
        symbol: SYM,
        reason: 'qty_mismatch_no_evidence',
      }),
    ).toBe(1);
    const s = await t.redis.hgetall(t.keys.reconcileState(SYM));
    expect(s).toMatchObject({
      status: 'HOLD',
      since_ts_ms: String(T0 + 1000),
      ts_ms: String(T0 + 100_000),
    });
    const transitions = h.lines.filter((l) => l.msg === 'reconcile state changed');
    expect(transitions).toHaveLength(1);
  });

  it('a changed hold reason is a new episode; an unchanged one is not', async () => {
    await writeSymbol(t.redis, t.keys, SYM, { ledger: ledgerFields('0.05', T0 - 60_000) });
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url });
    await h.engine.runOnce(); // missing_exchange
    await h.engine.runOnce();
    await cycle(h, '0.062'); // qty_mismatch_no_evidence
    await cycle(h, '0.062');
    await cycle(h, '0.05'); // OK
    await cycle(h, '0.062'); // a new episode of the same reason
    expect(await events()).toEqual([
      'HOLD_SET:missing_exchange',
      'HOLD_SET:qty_mismatch_no_evidence',
      'HOLD_CLEARED:qty_mismatch_no_evidence',
      'HOLD_SET:qty_mismatch_no_evidence',
    ]);
    expect(
      await metricValue(h.metrics, 'p34_reconcile_drift_total', {
        symbol: SYM,
        reason: 'qty_mismatch_no_evidence',
      }),
    ).toBe(2);
    expect(
      await metricValue(h.metrics, 'p34_reconcile_drift_total', {
        symbol: SYM,
        reason: 'missing_exchange',
      }),
    ).toBe(1);
  });

  it('an operator SETEX hold survives OK cycles and is never re-owned or deleted', async () => {
    await writeSymbol(t.redis, t.keys, SYM, { ledger: ledgerFields('0.062', T0 - 60_000) });
    await t.redis.setex(t.keys.hold(SYM), 600, '1');
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url });
    for (let i = 0; i < 5; i += 1) await cycle(h, '0.062');
    expect(await t.redis.get(t.keys.hold(SYM))).toBe('1');
    expect(await t.redis.exists(t.keys.holdOwner(SYM))).toBe(0);
    expect(await t.redis.hget(t.keys.reconcileState(SYM), 'hold_by')).toBe('foreign');
    expect(await metricValue(h.metrics, 'p34_reconcile_hold_active', { symbol: SYM })).toBe(1);
    expect(await events()).toEqual([]);
  });

  it('a foreign hold is shared while the engine needs it, raised but never shortened, and left in place after', async () => {
    await writeSymbol(t.redis, t.keys, SYM, { ledger: ledgerFields('0.05', T0 - 60_000) });
    await t.redis.setex(t.keys.hold(SYM), 10, '1');
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url });
    await cycle(h, '0.062');
    expect(await t.redis.get(t.keys.holdOwner(SYM))).toBe('shared');
    expect(await t.redis.pttl(t.keys.hold(SYM))).toBeGreaterThan(HOLD_TTL_MS - 10_000);
    expect(await t.redis.hget(t.keys.reconcileState(SYM), 'hold_by')).toBe('shared');
    // A longer foreign TTL is never shortened.
    await t.redis.pexpire(t.keys.hold(SYM), 3_600_000);
    await cycle(h, '0.062');
    expect(await t.redis.pttl(t.keys.hold(SYM))).toBeGreaterThan(3_500_000);
    // The condition clears: the marker goes, the foreign hold stays, no HOLD_CLEARED.
    await cycle(h, '0.05');
    expect(await t.redis.get(t.keys.hold(SYM))).toBe('1');
    expect(await t.redis.exists(t.keys.holdOwner(SYM))).toBe(0);
    expect(await t.redis.hget(t.keys.reconcileState(SYM), 'hold_by')).toBe('foreign');
    await cycle(h, '0.05');
    expect(await t.redis.get(t.keys.hold(SYM))).toBe('1');
    const names = await events();
    expect(names).toEqual(['HOLD_SET:qty_mismatch_no_evidence']);
    const first = (await readEvents(t.redis, t.keys))[0];
    expect(first?.fields.hold_by).toBe('shared');
  });

  it('an operator deleting an engine hold while the condition lasts sees it set again next cycle, counted, no second event', async () => {
    await writeSymbol(t.redis, t.keys, SYM, { ledger: ledgerFields('0.05', T0 - 60_000) });
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url });
    await cycle(h, '0.062');
    await t.redis.del(t.keys.hold(SYM));
    await cycle(h, '0.062');
    expect(await t.redis.get(t.keys.hold(SYM))).toBe('1');
    expect(await t.redis.hget(t.keys.reconcileState(SYM), 'hold_by')).toBe('p34');
    const all = await readEvents(t.redis, t.keys);
    expect(all.map((e) => e.fields.event)).toEqual(['HOLD_SET']);
    expect(await metricValue(h.metrics, 'p34_hold_lost_total', { symbol: SYM })).toBe(1);
    expect(
      await metricValue(h.metrics, 'p34_reconcile_drift_total', {
        symbol: SYM,
        reason: 'qty_mismatch_no_evidence',
      }),
    ).toBe(1);
  });

  it('DRIFT awaiting_snapshot keeps (re-arms) an existing engine hold instead of dropping it', async () => {
    await writeSymbol(t.redis, t.keys, SYM, { ledger: ledgerFields('0.05', T0 - 60_000) });
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url });
    await cycle(h, '0.062');
    expect(await t.redis.hget(t.keys.reconcileState(SYM), 'hold_by')).toBe('p34');
    const armedAt = Number(await t.redis.call('PEXPIRETIME', t.keys.hold(SYM)));
    await new Promise((resolve) => setTimeout(resolve, 5)); // real time passes: a re-arm moves the expiry
    // The brain writes the ledger after the snapshot.
    await writeSymbol(t.redis, t.keys, SYM, { ledger: ledgerFields('0.04', clock.ms + 900) });
    clock.advance(1000);
    await h.engine.runOnce();
    expect(await t.redis.hget(t.keys.reconcileState(SYM), 'status')).toBe('DRIFT');
    expect(await t.redis.hget(t.keys.reconcileState(SYM), 'hold_by')).toBe('p34');
    expect(Number(await t.redis.call('PEXPIRETIME', t.keys.hold(SYM)))).toBeGreaterThan(armedAt);
    expect(await events()).toEqual(['HOLD_SET:qty_mismatch_no_evidence']);
  });

  it('a symbol whose hold TTL is long is still evaluated and cleared at once (LESSONS #16)', async () => {
    await writeSymbol(t.redis, t.keys, SYM, { ledger: ledgerFields('0.05', T0 - 60_000) });
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url, env: { P34_HOLD_TTL_SEC: '3600' } });
    await cycle(h, '0.062');
    expect(await t.redis.pttl(t.keys.hold(SYM))).toBeGreaterThan(3_500_000);
    await t.redis.hset(t.keys.ledger(SYM), 'ledger_amt', '0.062');
    await cycle(h, '0.062');
    expect(await t.redis.exists(t.keys.hold(SYM))).toBe(0);
  });
});
