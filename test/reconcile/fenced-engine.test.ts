/**
 * The reconcile engine as a writer of the `reconcile` role (SPEC §11, LESSONS #24), on real
 * Redis: a cycle of a term another instance has replaced writes nothing at all — no state,
 * hold, owner marker, event, ledger, evidence marker or heartbeat byte changes — and tells
 * its term once; a cycle without a term, or whose term changed while it ran, writes nothing;
 * the heartbeat names the leader and its epoch; `newTerm()` reads everything afresh.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeHeartbeat } from '../../src/domain/reconcile-heartbeat.js';
import type { SoleTerm } from '../../src/redis/ha/sole-term.js';
import type { WriterTerm } from '../../src/redis/ha/writer-term.js';
import type { FencedResult } from '../../src/redis/scripts/fencing.js';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import { recordingTerm, testTerm } from '../helpers/terms.js';
import {
  T0,
  addResult,
  flatResult,
  ledgerFields,
  snapshotFields,
  writeSymbol,
  writeRepairableDrift,
} from './fixtures.js';
import { HARNESS_INSTANCE, ManualClock, makeEngine, readEvents } from './harness.js';
import { keyImage } from './key-image.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'ADAUSDT'];
const ENV = { P34_ALLOWLIST: SYMBOLS.join(',') };

describe('reconcile engine: fenced writes (real Redis)', () => {
  let t: TestRedis;
  let clock: ManualClock;
  let term: SoleTerm;

  beforeEach(async () => {
    t = openTestRedis('fe');
    clock = new ManualClock(T0);
    term = await testTerm(t.redis, t.keys, 'reconcile', 'engine');
  });
  afterEach(() => t.close());

  /** Every kind of write a cycle makes, from cycle 2 on (cycle 1 makes BTC steady and ADA held). */
  async function seed(): Promise<void> {
    // BTC: OK, then steady (the batched steady script).
    await writeSymbol(t.redis, t.keys, 'BTCUSDT', {
      snapshot: snapshotFields('0.062', T0 - 500),
      ledger: ledgerFields('0.062', T0 - 60_000),
    });
    // ADA: a drift nothing explains — held in cycle 1, cleared in cycle 2.
    await writeSymbol(t.redis, t.keys, 'ADAUSDT', {
      snapshot: snapshotFields('0.05', T0 - 500),
      ledger: ledgerFields('0.062', T0 - 60_000),
    });
  }

  /** What cycle 2 would write: an init, a repair with its markers, a new hold, a cleared hold. */
  async function changeTheWorld(nowMs: number): Promise<void> {
    await writeSymbol(t.redis, t.keys, 'BTCUSDT', {
      snapshot: snapshotFields('0.062', nowMs - 300),
    });
    await writeSymbol(t.redis, t.keys, 'ETHUSDT', { snapshot: snapshotFields('1.5', nowMs - 300) });
    await writeRepairableDrift(t.redis, t.keys, 'XRPUSDT', {
      snapshotMs: nowMs - 300,
      fillMs: nowMs - 5000,
    });
    await writeSymbol(t.redis, t.keys, 'SOLUSDT', {
      snapshot: snapshotFields('12', nowMs - 300),
      ledger: ledgerFields('-12', T0 - 60_000),
    });
    await writeSymbol(t.redis, t.keys, 'ADAUSDT', {
      snapshot: snapshotFields('0.062', nowMs - 300),
    });
  }

  it('a stale term (another instance took the role): the cycle writes nothing at all, fails FENCED, and tells its term once', async () => {
    await seed();
    const recorder = recordingTerm(term);
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url, env: ENV, term: recorder });
    await h.engine.runOnce();
    expect(await t.redis.get(t.keys.hold('ADAUSDT'))).toBe('1');
    const old = term.acquiredEpoch;

    // This engine pauses; its lease lapses; another instance takes the role.
    await t.redis.del(t.keys.lease('reconcile'));
    const other = await testTerm(t.redis, t.keys, 'reconcile', 'other');
    clock.advance(1000);
    await changeTheWorld(clock.ms);
    const before = await keyImage(t);
    const events = await readEvents(t.redis, t.keys);

    // It wakes up believing it leads (its term still gives the old epoch).
    expect(recorder.epoch()).toBe(old);
    await expect(h.engine.runOnce()).rejects.toMatchObject({ code: 'FENCED' });
    expect(await keyImage(t), 'every key byte for byte').toEqual(before);
    expect(await readEvents(t.redis, t.keys)).toEqual(events);
    expect(recorder.refusals).toEqual([
      { status: 'fenced', fence: other.acquiredEpoch, epoch: old },
    ]);
    // The term ended: the next cycle does not even try.
    await expect(h.engine.runOnce()).rejects.toMatchObject({ code: 'NOT_LEADER' });
    expect(await keyImage(t)).toEqual(before);
    expect(recorder.refusals).toHaveLength(1);

    // The new leader's engine writes the same cycle in full.
    const next = makeEngine(t.redis, t.keys, clock, { url: t.url, env: ENV, term: other });
    const report = await next.engine.runOnce();
    expect(report.outcomes.map((o) => o.commit?.code)).toEqual(SYMBOLS.map(() => 'ok'));
    expect(
      (await readEvents(t.redis, t.keys)).map((e) => `${e.fields.symbol}:${e.fields.event}`),
    ).toEqual(
      expect.arrayContaining([
        'ETHUSDT:LEDGER_INIT',
        'XRPUSDT:AUTO_REPAIR',
        'SOLUSDT:HOLD_SET',
        'ADAUSDT:HOLD_CLEARED',
      ]),
    );
  });

  it('a missing fence (lost with Redis’ data) refuses the cycle too: nothing written, the term told', async () => {
    await seed();
    const recorder = recordingTerm(term);
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url, env: ENV, term: recorder });
    await h.engine.runOnce();
    await t.redis.del(t.keys.fence('reconcile'));
    clock.advance(1000);
    await changeTheWorld(clock.ms);
    const before = await keyImage(t);
    await expect(h.engine.runOnce()).rejects.toMatchObject({ code: 'FENCED' });
    expect(await keyImage(t)).toEqual(before);
    expect(recorder.refusals).toEqual([
      { status: 'fenced', fence: null, epoch: term.acquiredEpoch },
    ]);
  });

  it('no term (this instance does not lead): NOT_LEADER, nothing written, nothing told; a dry run still reads and decides', async () => {
    await seed();
    const refusals: FencedResult[] = [];
    const none: WriterTerm = {
      role: 'reconcile',
      epoch: () => null,
      fenced: (r) => refusals.push(r),
    };
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url, env: ENV, term: none });
    const before = await keyImage(t);
    await expect(h.engine.runOnce()).rejects.toMatchObject({ code: 'NOT_LEADER' });
    expect(await keyImage(t)).toEqual(before);
    const dry = await h.engine.runOnce({ dryRun: true });
    expect(dry.outcomes.map((o) => o.decision.symbol)).toEqual(SYMBOLS);
    expect(await keyImage(t)).toEqual(before);
    expect(refusals).toEqual([]);
  });

  it('a term that changed while the cycle ran (stepped down and elected again): the cycle’s reads are not written', async () => {
    await seed();
    let calls = 0;
    const flipping: WriterTerm = {
      role: 'reconcile',
      // The cycle's first look, then a new term by the time it writes.
      epoch: () => (calls++ === 0 ? term.acquiredEpoch : term.acquiredEpoch + 1),
      fenced: () => undefined,
    };
    await t.redis.set(t.keys.fence('reconcile'), String(term.acquiredEpoch + 1));
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url, env: ENV, term: flipping });
    const before = await keyImage(t);
    await expect(h.engine.runOnce()).rejects.toMatchObject({
      code: 'NOT_LEADER',
      message: expect.stringContaining('its reads are not this term') as unknown,
    });
    expect(await keyImage(t)).toEqual(before);
  });

  it('the heartbeat names the leader: its instance id and the epoch of its term', async () => {
    await seed();
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url, env: ENV });
    await h.engine.runOnce();
    const raw = await t.redis.get(t.keys.reconcileHeartbeat);
    const epoch = (await h.term()).epoch();
    expect(JSON.parse(raw ?? '{}')).toMatchObject({ instance: HARNESS_INSTANCE, epoch, cycle: 1 });
    expect(decodeHeartbeat(raw)).toMatchObject({
      kind: 'ok',
      leader: { instance: HARNESS_INSTANCE, epoch },
    });
  });

  it('newTerm(): the next cycle rebuilds the evidence window from the current master (an entry the incremental read cannot see)', async () => {
    await writeSymbol(t.redis, t.keys, 'XRPUSDT', {
      snapshot: snapshotFields('0.101', T0 - 500),
      ledger: ledgerFields('0.101', T0 - 60_000),
    });
    await addResult(
      t.redis,
      t.keys,
      `${T0 - 2000}-0`,
      flatResult('BTCUSDT', 'BUY', '0.001', T0 - 2000),
    );
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url, env: ENV, term });
    await h.engine.runOnce(); // the window starts; its last seen id is T0-2000-0
    // A master switch: the new master's stream holds a fill the old one had not shown yet,
    // with an id below the last one seen — the incremental read starts after it.
    await t.redis.del(t.keys.applyResultStream);
    await addResult(
      t.redis,
      t.keys,
      `${T0 - 3000}-0`,
      flatResult('XRPUSDT', 'SELL', '0.001', T0 - 3000),
    );
    clock.advance(1000);
    await writeSymbol(t.redis, t.keys, 'XRPUSDT', {
      snapshot: snapshotFields('0.1', clock.ms - 300),
    });
    const without = await h.engine.runOnce();
    const xrp = (r: typeof without) => r.outcomes.find((o) => o.decision.symbol === 'XRPUSDT');
    expect(xrp(without)?.decision.reason).toBe('qty_mismatch_no_evidence');
    h.engine.newTerm();
    clock.advance(1000);
    await writeSymbol(t.redis, t.keys, 'XRPUSDT', {
      snapshot: snapshotFields('0.1', clock.ms - 300),
    });
    const fresh = await h.engine.runOnce();
    expect(xrp(fresh)?.decision.action).toBe('auto_repair');
    expect(xrp(fresh)?.commit?.code).toBe('ok');
    expect(await t.redis.hget(t.keys.ledger('XRPUSDT'), 'ledger_amt')).toBe('0.1');
  });
});
