/**
 * Every row of the SPEC §7 table through a real engine cycle on real Redis: state hash,
 * hold and owner marker, ledger writes and events as an operator would see them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeLedger } from '../../src/domain/ledger.js';
import { epsilonFor } from '../../src/domain/amount.js';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import {
  BTC_LOT,
  T0,
  addResult,
  flatResult,
  ledgerFields,
  snapshotFields,
  stepsResult,
  writeSymbol,
} from './fixtures.js';
import { ManualClock, makeEngine, metricValue, readEvents } from './harness.js';

const SYM = 'BTCUSDT';
const HOLD_TTL_MS = 300_000;

describe('reconcile engine — SPEC §7 rows on real Redis', () => {
  let t: TestRedis;
  let clock: ManualClock;

  beforeEach(() => {
    t = openTestRedis('rc');
    clock = new ManualClock(T0);
  });
  afterEach(() => t.close());

  const engine = () => makeEngine(t.redis, t.keys, clock, { url: t.url });
  const state = () => t.redis.hgetall(t.keys.reconcileState(SYM));
  const ledger = () => t.redis.hgetall(t.keys.ledger(SYM));
  const eventNames = async () => (await readEvents(t.redis, t.keys)).map((e) => e.fields.event);

  it('OK: equal amounts → state OK, no hold, no events, heartbeat written', async () => {
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('0.062', T0 - 500),
      ledger: ledgerFields('0.062', T0 - 60_000),
    });
    const h = engine();
    await h.engine.runOnce();
    const s = await state();
    expect(s).toMatchObject({
      status: 'OK',
      reason: '',
      exchange_amt: '0.062',
      ledger_amt: '0.062',
      diff_amt: '0',
      diff_pct: '0',
      exchange_side: 'LONG',
      ledger_side: 'LONG',
      snapshot_age_sec: '0.500',
      last_seen_ts: String(Math.floor(T0 / 1000)),
      since_ts: String(Math.floor(T0 / 1000)),
      hold_by: '',
      ts_ms: String(T0),
    });
    expect(await t.redis.exists(t.keys.hold(SYM))).toBe(0);
    expect(await eventNames()).toEqual([]);
    const beat = JSON.parse((await t.redis.get(t.keys.reconcileHeartbeat)) ?? '{}') as Record<
      string,
      unknown
    >;
    expect(beat).toMatchObject({
      ts_ms: T0,
      ts_epoch: Math.floor(T0 / 1000),
      pid: 4242,
      host: 'test-host',
      cycle: 1,
      symbols: 1,
      cadence_sec: 1,
    });
    expect(await t.redis.pttl(t.keys.reconcileHeartbeat)).toBeGreaterThan(4000);
  });

  it('row 1: missing snapshot → HOLD missing_exchange with an engine hold and one HOLD_SET', async () => {
    await writeSymbol(t.redis, t.keys, SYM, { ledger: ledgerFields('0.062', T0 - 60_000) });
    const h = engine();
    await h.engine.runOnce();
    expect(await state()).toMatchObject({
      status: 'HOLD',
      reason: 'missing_exchange',
      hold_by: 'p34',
      exchange_amt: '',
    });
    expect(await t.redis.get(t.keys.hold(SYM))).toBe('1');
    // The engine's marker records its hold's exact expiry (SPEC §7: ownership by expiry).
    const at = String(await t.redis.call('PEXPIRETIME', t.keys.hold(SYM)));
    expect(await t.redis.get(t.keys.holdOwner(SYM))).toBe(`p34:${at}`);
    expect(await t.redis.pttl(t.keys.hold(SYM))).toBeGreaterThan(HOLD_TTL_MS - 5000);
    const events = await readEvents(t.redis, t.keys);
    expect(events.map((e) => e.fields.event)).toEqual(['HOLD_SET']);
    expect(events[0]?.fields).toMatchObject({
      symbol: SYM,
      reason: 'missing_exchange',
      ts: String(Math.floor(T0 / 1000)),
      ts_ms: String(T0),
      hold_ttl_sec: '300',
      hold_by: 'p34',
    });
    expect(
      await metricValue(h.metrics, 'p34_reconcile_drift_total', {
        symbol: SYM,
        reason: 'missing_exchange',
      }),
    ).toBe(1);
    expect(await metricValue(h.metrics, 'p34_reconcile_hold_active', { symbol: SYM })).toBe(1);
  });

  it('row 2: stale snapshot → HOLD stale_exchange', async () => {
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('0.062', T0 - 15_000),
      ledger: ledgerFields('0.062', T0 - 60_000),
    });
    await engine().engine.runOnce();
    expect(await state()).toMatchObject({
      status: 'HOLD',
      reason: 'stale_exchange',
      snapshot_age_sec: '15.000',
    });
    expect(await t.redis.exists(t.keys.hold(SYM))).toBe(1);
  });

  it('row 3: invalid ledger → MANUAL_REQUIRED ledger_invalid with a hold, HOLD_SET and MANUAL_REQUIRED events', async () => {
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('0.062', T0 - 500),
      ledger: { ledger_amt: 'abc', version: '2' },
    });
    await engine().engine.runOnce();
    expect(await state()).toMatchObject({
      status: 'MANUAL_REQUIRED',
      reason: 'ledger_invalid',
      hold_by: 'p34',
    });
    expect(await eventNames()).toEqual(['HOLD_SET', 'MANUAL_REQUIRED']);
    expect(await ledger()).toEqual({ ledger_amt: 'abc', version: '2' });
  });

  it('row 4: no ledger → LEDGER_INIT from the snapshot, keeping order fields the brain wrote', async () => {
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('-0.062', T0 - 500),
      ledger: {
        last_order_id: '123',
        last_plan_id: 'p-1',
        last_result_id: `${T0 - 90_000}-0`,
        last_order_time_ms: String(T0 - 90_000),
      },
    });
    await engine().engine.runOnce();
    const l = await ledger();
    expect(l).toMatchObject({
      ledger_amt: '-0.062',
      ledger_side: 'SHORT',
      last_known_amt: '-0.062',
      last_known_side: 'SHORT',
      version: '1',
      source: 'p34_init',
      ts_ms: String(T0),
      last_order_id: '123',
      last_plan_id: 'p-1',
      last_result_id: `${T0 - 90_000}-0`,
    });
    expect(await t.redis.pttl(t.keys.ledger(SYM))).toBeGreaterThan(86_000_000);
    expect(await state()).toMatchObject({
      status: 'OK',
      reason: 'ledger_init',
      ledger_amt: '-0.062',
      diff_amt: '0',
    });
    const events = await readEvents(t.redis, t.keys);
    expect(events.map((e) => e.fields.event)).toEqual(['LEDGER_INIT']);
    expect(events[0]?.fields).toMatchObject({
      new_ledger_amt: '-0.062',
      ledger_version: '1',
      exchange_amt: '-0.062',
    });
  });

  it('row 5 after row 4: the next cycle is plain OK and writes no more events', async () => {
    await writeSymbol(t.redis, t.keys, SYM, { snapshot: snapshotFields('0.05', T0 - 500) });
    const h = engine();
    await h.engine.runOnce();
    clock.advance(1000);
    await h.engine.runOnce();
    expect(await state()).toMatchObject({ status: 'OK', reason: '' });
    expect(await eventNames()).toEqual(['LEDGER_INIT']);
  });

  it('steady OK cycles refresh last_seen_ts every cycle and keep since_ts', async () => {
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('0.062', T0 - 500),
      ledger: ledgerFields('0.062', T0 - 60_000),
    });
    const h = engine();
    await h.engine.runOnce();
    for (let i = 1; i <= 3; i += 1) {
      clock.advance(1000);
      await writeSymbol(t.redis, t.keys, SYM, {
        snapshot: snapshotFields('0.0621', clock.ms - 200),
      });
      await h.engine.runOnce();
      expect(await state()).toMatchObject({
        status: 'OK',
        since_ts_ms: String(T0),
        ts_ms: String(T0 + i * 1000),
        last_seen_ts: String(Math.floor((T0 + i * 1000) / 1000)),
        exchange_amt: '0.0621',
        snapshot_age_sec: '0.200',
      });
    }
    // An operator hold appearing on a steady symbol is seen (and left alone) next cycle.
    await t.redis.setex(t.keys.hold(SYM), 60, '1');
    clock.advance(1000);
    await h.engine.runOnce();
    expect(await state()).toMatchObject({
      status: 'OK',
      hold_by: 'foreign',
      since_ts_ms: String(T0),
    });
    expect(await t.redis.get(t.keys.hold(SYM))).toBe('1');
  });

  it('row 6: side mismatch → MANUAL_REQUIRED with hold; the seed fix HSET ledger_side LONG clears it next cycle', async () => {
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('0.062', T0 - 500),
      ledger: ledgerFields('-0.062', T0 - 60_000),
    });
    const h = engine();
    await h.engine.runOnce();
    expect(await state()).toMatchObject({
      status: 'MANUAL_REQUIRED',
      reason: 'side_mismatch',
      exchange_side: 'LONG',
      ledger_side: 'SHORT',
      hold_by: 'p34',
    });
    expect(await t.redis.get(t.keys.hold(SYM))).toBe('1');
    await t.redis.hset(t.keys.ledger(SYM), 'ledger_side', 'LONG');
    clock.advance(1000);
    await writeSymbol(t.redis, t.keys, SYM, { snapshot: snapshotFields('0.062', clock.ms - 500) });
    await h.engine.runOnce();
    expect(await state()).toMatchObject({ status: 'OK', reason: '', hold_by: '' });
    expect(await t.redis.exists(t.keys.hold(SYM), t.keys.holdOwner(SYM))).toBe(0);
    const events = await readEvents(t.redis, t.keys);
    expect(events.map((e) => e.fields.event)).toEqual([
      'HOLD_SET',
      'MANUAL_REQUIRED',
      'HOLD_CLEARED',
    ]);
    expect(events[2]?.fields).toMatchObject({ reason: 'side_mismatch', resolution: 'OK/' });
  });

  it('row 7: ledger newer than the snapshot → DRIFT awaiting_snapshot, no hold, no event, no drift count', async () => {
    await t.redis.xadd(
      t.keys.applyResultStream,
      `${T0 - 300}-0`,
      ...Object.entries(flatResult(SYM, 'SELL', '0.031', T0 - 300)).flat(),
    );
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('0.062', T0 - 800),
      ledger: ledgerFields('0.031', T0 - 300),
    });
    const h = engine();
    await h.engine.runOnce();
    expect(await state()).toMatchObject({
      status: 'DRIFT',
      reason: 'awaiting_snapshot',
      hold_by: '',
    });
    expect(await t.redis.exists(t.keys.hold(SYM))).toBe(0);
    expect(await eventNames()).toEqual([]);
    expect(await metricValue(h.metrics, 'p34_reconcile_drift_total', { symbol: SYM })).toBe(0);
    // The brain's refreshed snapshot shows the fill: OK, nothing was ever repaired.
    clock.advance(400);
    await writeSymbol(t.redis, t.keys, SYM, { snapshot: snapshotFields('0.031', clock.ms - 50) });
    await h.engine.runOnce();
    expect(await state()).toMatchObject({ status: 'OK', reason: '' });
    expect((await ledger()).source).toBe('apply');
    expect(await eventNames()).toEqual([]);
  });

  it('row 8: evidence (executed="true" + filled_qty) → REPAIRED auto_fixed, ledger := exchange, markers set', async () => {
    const id = await addResult(
      t.redis,
      t.keys,
      `${T0 - 5000}-0`,
      flatResult(SYM, 'SELL', '0.001', T0 - 5000, 'plan-9'),
    );
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('0.1', T0 - 500),
      ledger: {
        ...ledgerFields('0.101', T0 - 60_000, { version: 6, lastResultId: `${T0 - 70_000}-0` }),
        last_order_id: 'o-1',
        last_plan_id: 'p-old',
      },
    });
    const h = engine();
    await h.engine.runOnce();
    const l = await ledger();
    expect(l).toMatchObject({
      ledger_amt: '0.1',
      ledger_side: 'LONG',
      last_known_amt: '0.1',
      version: '8',
      source: 'p34_auto',
      ts_ms: String(T0),
    });
    expect(l).toMatchObject({
      last_order_id: 'o-1',
      last_plan_id: 'p-old',
      last_result_id: `${T0 - 70_000}-0`,
    });
    expect(await state()).toMatchObject({
      status: 'REPAIRED',
      reason: 'auto_fixed',
      exchange_amt: '0.1',
      ledger_amt: '0.1',
      diff_amt: '0',
      last_fix_ts_ms: String(T0),
    });
    expect(await t.redis.exists(t.keys.evidenceUsed(id))).toBe(1);
    expect(await t.redis.exists(t.keys.resultApplied(id))).toBe(1);
    const events = await readEvents(t.redis, t.keys);
    expect(events.map((e) => e.fields.event)).toEqual(['AUTO_REPAIR']);
    expect(events[0]?.fields).toMatchObject({
      reason: 'auto_fixed',
      old_ledger_amt: '0.101',
      new_ledger_amt: '0.1',
      diff_amt: '-0.001',
      evidence_plan_id: 'plan-9',
      evidence_order_id: 'ord-plan-9',
      evidence_entry_ids: id,
    });
    expect(await metricValue(h.metrics, 'p34_reconcile_auto_repair_total', { symbol: SYM })).toBe(
      1,
    );
    expect(await metricValue(h.metrics, 'p34_reconcile_last_fix_age_sec', { symbol: SYM })).toBe(0);
    clock.advance(1000);
    await writeSymbol(t.redis, t.keys, SYM, { snapshot: snapshotFields('0.1', clock.ms - 500) });
    await h.engine.runOnce();
    expect(await state()).toMatchObject({ status: 'OK', reason: '' });
    expect(await metricValue(h.metrics, 'p34_reconcile_last_fix_age_sec', { symbol: SYM })).toBe(1);
  });

  it('row 8: a fill the brain already applied never justifies a repair (an external trade of the same size holds)', async () => {
    // The brain applied this SELL 0.001 (its marker exists, last_result_id points at it);
    // then someone traded 0.001 by hand. The drift equals the fill, but the fill is already
    // in the ledger: it explains nothing.
    const id = await addResult(
      t.redis,
      t.keys,
      `${T0 - 5000}-0`,
      flatResult(SYM, 'SELL', '0.001', T0 - 5000, 'plan-7'),
    );
    await t.redis.set(t.keys.resultApplied(id), '1');
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('0.1', T0 - 500),
      ledger: ledgerFields('0.101', T0 - 60_000, { version: 6, lastResultId: id }),
    });
    const h = engine();
    await h.engine.runOnce();
    expect(await state()).toMatchObject({ status: 'HOLD', reason: 'qty_mismatch_no_evidence' });
    expect(await ledger()).toMatchObject({ ledger_amt: '0.101', version: '7' });
    expect(await eventNames()).toEqual(['HOLD_SET']);
    expect(await metricValue(h.metrics, 'p34_reconcile_auto_repair_total', { symbol: SYM })).toBe(
      0,
    );
  });

  it('row 8: the repair script refuses evidence whose applied marker exists even when last_result_id lags', async () => {
    // Out-of-order application (two brains): the marker is the authority.
    const id = await addResult(
      t.redis,
      t.keys,
      `${T0 - 5000}-0`,
      flatResult(SYM, 'SELL', '0.001', T0 - 5000, 'plan-8'),
    );
    await t.redis.set(t.keys.resultApplied(id), '1');
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('0.1', T0 - 500),
      ledger: ledgerFields('0.101', T0 - 60_000, { version: 6, lastResultId: `${T0 - 70_000}-0` }),
    });
    const h = engine();
    await h.engine.runOnce();
    expect(await ledger()).toMatchObject({ ledger_amt: '0.101', version: '7' });
    expect(await t.redis.exists(t.keys.evidenceUsed(id))).toBe(0);
    clock.advance(1000);
    await writeSymbol(t.redis, t.keys, SYM, { snapshot: snapshotFields('0.1', clock.ms - 500) });
    await h.engine.runOnce();
    expect(await state()).toMatchObject({ status: 'HOLD', reason: 'qty_mismatch_no_evidence' });
    expect(await ledger()).toMatchObject({ ledger_amt: '0.101', version: '7' });
    expect(await metricValue(h.metrics, 'p34_reconcile_auto_repair_total', { symbol: SYM })).toBe(
      0,
    );
  });

  it('row 8: evidence in the executed="True" + steps_results shape counts too, and clears the hold it replaces', async () => {
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('0.101', T0 - 500),
      ledger: ledgerFields('0.1', T0 - 60_000),
    });
    const h = engine();
    await h.engine.runOnce();
    expect(await state()).toMatchObject({ status: 'HOLD', reason: 'qty_mismatch_no_evidence' });
    // The engine has been down; now the result arrives (its fill predates the next snapshot).
    clock.advance(2000);
    const id = await addResult(
      t.redis,
      t.keys,
      `${clock.ms - 1500}-0`,
      stepsResult(SYM, 'BUY', '0.001', Math.floor((clock.ms - 1500) / 1000)),
    );
    await writeSymbol(t.redis, t.keys, SYM, { snapshot: snapshotFields('0.101', clock.ms - 200) });
    await h.engine.runOnce();
    expect(await state()).toMatchObject({ status: 'REPAIRED', reason: 'auto_fixed', hold_by: '' });
    expect(await t.redis.exists(t.keys.hold(SYM))).toBe(0);
    const events = await readEvents(t.redis, t.keys);
    expect(events.map((e) => e.fields.event)).toEqual(['HOLD_SET', 'AUTO_REPAIR', 'HOLD_CLEARED']);
    expect(events[1]?.fields).toMatchObject({
      evidence_entry_ids: id,
      evidence_order_id: '777001',
    });
  });

  it('row 9: evidence above the tolerance → MANUAL_REQUIRED qty_mismatch_exceeds_tolerance', async () => {
    await addResult(t.redis, t.keys, `${T0 - 5000}-0`, flatResult(SYM, 'SELL', '0.01', T0 - 5000));
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('0.09', T0 - 500),
      ledger: ledgerFields('0.1', T0 - 60_000),
    });
    await engine().engine.runOnce();
    expect(await state()).toMatchObject({
      status: 'MANUAL_REQUIRED',
      reason: 'qty_mismatch_exceeds_tolerance',
      diff_pct: '10',
    });
    expect((await ledger()).ledger_amt).toBe('0.1');
    expect(await eventNames()).toEqual(['HOLD_SET', 'MANUAL_REQUIRED']);
  });

  it('row 9: no evidence → HOLD; the seed fix HSET ledger_amt clears the hold in the next cycle', async () => {
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('0.062', T0 - 500),
      ledger: ledgerFields('0.05', T0 - 60_000),
    });
    const h = engine();
    await h.engine.runOnce();
    expect(await state()).toMatchObject({
      status: 'HOLD',
      reason: 'qty_mismatch_no_evidence',
      diff_amt: '0.012',
    });
    expect(await t.redis.exists(t.keys.hold(SYM))).toBe(1);
    await t.redis.hset(t.keys.ledger(SYM), 'ledger_amt', '0.062');
    clock.advance(1000);
    await writeSymbol(t.redis, t.keys, SYM, { snapshot: snapshotFields('0.062', clock.ms - 500) });
    await h.engine.runOnce();
    expect(await state()).toMatchObject({ status: 'OK', hold_by: '' });
    expect(await t.redis.exists(t.keys.hold(SYM))).toBe(0);
    expect(await metricValue(h.metrics, 'p34_reconcile_hold_active', { symbol: SYM })).toBe(0);
  });

  it('reads a legacy last_known_* ledger (SHORT stored positive) without a false mismatch', async () => {
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('-0.062', T0 - 500),
      ledger: {
        last_known_amt: '0.062',
        last_known_side: 'SHORT',
        last_order_id: '1',
        last_update_ts: String((T0 - 60_000) / 1000),
      },
    });
    await engine().engine.runOnce();
    expect(await state()).toMatchObject({
      status: 'OK',
      reason: '',
      ledger_amt: '-0.062',
      ledger_side: 'SHORT',
    });
    expect(await eventNames()).toEqual([]);
  });

  it('keys of the wrong type become holds, not crashes (LESSONS #18)', async () => {
    await t.redis.set(t.keys.snapshot(SYM), 'not a hash');
    await t.redis.set(t.keys.ledger(SYM), 'not a hash');
    const h = engine();
    const report = await h.engine.runOnce();
    expect(report.outcomes[0]?.commit).toMatchObject({ code: 'ok' });
    expect(await state()).toMatchObject({ status: 'HOLD', reason: 'missing_exchange' });
    expect((await state()).detail).toContain('WRONGTYPE');
  });

  it('counts malformed apply.result entries and keeps going', async () => {
    await addResult(t.redis, t.keys, `${T0 - 5000}-0`, { symbol: SYM, executed: 'maybe' });
    await addResult(t.redis, t.keys, `${T0 - 4000}-0`, {
      symbol: SYM,
      executed: 'true',
      side: 'SELL',
      filled_qty: 'lots',
    });
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('0.062', T0 - 500),
      ledger: ledgerFields('0.062', T0 - 60_000),
    });
    const h = engine();
    await h.engine.runOnce();
    await addResult(t.redis, t.keys, `${T0 - 100}-0`, {
      symbol: SYM,
      executed: 'true',
      steps_results: '{not json',
    });
    clock.advance(1000);
    await writeSymbol(t.redis, t.keys, SYM, { snapshot: snapshotFields('0.062', clock.ms - 500) });
    await h.engine.runOnce();
    expect(await metricValue(h.metrics, 'p34_bad_input_total', { stream: 'apply.result' })).toBe(3);
    expect(await state()).toMatchObject({ status: 'OK' });
  });

  it('reads apply.result backlogs larger than one page, at start and between cycles', async () => {
    const backlog = async (fromMs: number, n: number): Promise<void> => {
      const pipeline = t.redis.pipeline();
      for (let i = 0; i < n; i += 1) {
        pipeline.xadd(
          t.keys.applyResultStream,
          `${fromMs}-${i}`,
          ...Object.entries(flatResult('ETHUSDT', 'SELL', '1', fromMs)).flat(),
        );
      }
      await pipeline.exec();
    };
    await backlog(T0 - 20_000, 1500);
    await addResult(
      t.redis,
      t.keys,
      `${T0 - 5000}-0`,
      flatResult(SYM, 'SELL', '0.001', T0 - 5000, 'first'),
    );
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('0.1', T0 - 500),
      ledger: ledgerFields('0.101', T0 - 60_000),
    });
    const h = engine();
    await h.engine.runOnce();
    expect(await state()).toMatchObject({ status: 'REPAIRED' });
    await backlog(T0 + 100, 2100);
    await addResult(
      t.redis,
      t.keys,
      `${T0 + 200}-0`,
      flatResult(SYM, 'SELL', '0.001', T0 + 200, 'second'),
    );
    await t.redis.hset(t.keys.ledger(SYM), ledgerFields('0.1', T0 - 60_000, { version: 7 }));
    clock.advance(1000);
    await writeSymbol(t.redis, t.keys, SYM, { snapshot: snapshotFields('0.099', clock.ms - 500) });
    await h.engine.runOnce();
    const repairs = (await readEvents(t.redis, t.keys)).filter(
      (e) => e.fields.event === 'AUTO_REPAIR',
    );
    expect(repairs.map((e) => e.fields.evidence_plan_id)).toEqual(['first', 'second']);
    expect(await metricValue(h.metrics, 'p34_evidence_window_fills')).toBe(2);
  });

  it('uses the lot step for ε: a sub-step difference is OK', async () => {
    await writeSymbol(t.redis, t.keys, SYM, {
      snapshot: snapshotFields('0.0624', T0 - 500),
      ledger: ledgerFields('0.062', T0 - 60_000),
      lot: BTC_LOT,
    });
    await engine().engine.runOnce();
    expect((await state()).status).toBe('OK');
    const read = decodeLedger(await ledger(), epsilonFor(BTC_LOT.stepSize));
    expect(read.kind).toBe('ok');
  });
});
