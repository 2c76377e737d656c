/**
 * reconcile_commit against a real Redis: every status (ok, conflict, evidence_used,
 * evidence_applied, wrong_type, fenced) from real decisions, and the NOSCRIPT path (SCRIPT
 * FLUSH) in a single call and inside a pipeline. Encode and decode without Redis:
 * test/unit/scripts/reconcile-commit.test.ts; a decision as commit arguments and the engine
 * after SCRIPT FLUSH: test/reconcile/commit-script.test.ts; every KEYS position's type check:
 * test/reconcile/write-script-types.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Decision, decide } from '../../src/domain/drift.js';
import { decodeLedger } from '../../src/domain/ledger.js';
import { decodeSnapshot } from '../../src/domain/snapshot.js';
import { commitArgs } from '../../src/reconcile/commit.js';
import { reconcileCommit } from '../../src/redis/scripts/reconcile-commit.js';
import { queueScript, runScript, scriptPipeline } from '../../src/redis/scripts/script.js';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import { testTerm } from '../helpers/terms.js';
import { expectFencedEverywhere } from './fence-cases.js';
import {
  ENTRY,
  EPS,
  SETTINGS,
  SYM,
  orderRepairDecision,
  repairDecision,
} from '../reconcile/decisions.js';
import { BTC_LOT, DRIFT_CONFIG, T0, ledgerFields, snapshotFields } from '../reconcile/fixtures.js';
import { readEvents } from '../reconcile/harness.js';

describe('reconcile_commit (real Redis)', () => {
  let t: TestRedis;
  let epoch: number;
  beforeEach(async () => {
    t = openTestRedis('rs');
    epoch = (await testTerm(t.redis, t.keys, 'reconcile')).acquiredEpoch;
  });
  afterEach(() => t.close());

  const run = (d: Decision, rawLedger: Record<string, string>, at = epoch) =>
    runScript(t.redis, reconcileCommit, {
      ...commitArgs(t.keys, d, rawLedger, SETTINGS),
      epoch: at,
    });

  it('ok: repairs, marks evidence and result, writes state and one AUTO_REPAIR', async () => {
    const hash = ledgerFields('0.101', T0 - 60_000);
    await t.redis.hset(t.keys.ledger(SYM), hash);
    expect(await run(repairDecision(hash), hash)).toEqual({
      code: 'ok',
      holdBy: '',
      newEpisode: false,
      events: 1,
      holdLost: false,
    });
    expect(await t.redis.hget(t.keys.ledger(SYM), 'ledger_amt')).toBe('0.1');
    expect(await t.redis.pttl(t.keys.evidenceUsed(ENTRY))).toBeGreaterThan(590_000);
    expect(await t.redis.pttl(t.keys.resultApplied(ENTRY))).toBeGreaterThan(86_000_000);
  });

  it('conflict: a ledger written between read and commit wins (version changed)', async () => {
    const stale = ledgerFields('0.101', T0 - 60_000);
    await t.redis.hset(t.keys.ledger(SYM), ledgerFields('0.1005', T0 - 1000, { version: 1 }));
    // The engine's own hold: its marker records the hold's exact expiry.
    await t.redis.set(t.keys.hold(SYM), '1', 'PX', 5000);
    const at = String(await t.redis.call('PEXPIRETIME', t.keys.hold(SYM)));
    await t.redis.set(t.keys.holdOwner(SYM), `p34:${at}`, 'PX', 5000);
    expect(await run(repairDecision(stale), stale)).toEqual({
      code: 'conflict',
      holdBy: 'p34',
      newEpisode: false,
      events: 0,
      holdLost: false,
    });
    expect(await t.redis.hgetall(t.keys.ledger(SYM))).toMatchObject({
      ledger_amt: '0.1005',
      version: '2',
      source: 'apply',
    });
    expect(await t.redis.exists(t.keys.evidenceUsed(ENTRY), t.keys.resultApplied(ENTRY))).toBe(0);
    expect(await readEvents(t.redis, t.keys)).toEqual([]);
    // Liveness is kept even on a refusal: the engine's hold is re-armed, last_seen_ts fresh.
    expect(await t.redis.pttl(t.keys.hold(SYM))).toBeGreaterThan(290_000);
    expect(await t.redis.hget(t.keys.reconcileState(SYM), 'ts_ms')).toBe(String(T0));
  });

  it('conflict: an operator HSET ledger_amt without a version bump also wins', async () => {
    const stale = ledgerFields('0.101', T0 - 60_000);
    await t.redis.hset(t.keys.ledger(SYM), stale);
    await t.redis.hset(t.keys.ledger(SYM), 'ledger_amt', '0.1');
    expect(await run(repairDecision(stale), stale)).toMatchObject({ code: 'conflict' });
    expect(await t.redis.hget(t.keys.ledger(SYM), 'source')).toBe('apply');
  });

  it('evidence_used: an entry that already justified a repair refuses the whole repair', async () => {
    const hash = ledgerFields('0.101', T0 - 60_000);
    await t.redis.hset(t.keys.ledger(SYM), hash);
    await t.redis.set(t.keys.evidenceUsed(ENTRY), '1');
    expect(await run(repairDecision(hash), hash)).toMatchObject({
      code: 'evidence_used',
      events: 0,
    });
    expect(await t.redis.hget(t.keys.ledger(SYM), 'ledger_amt')).toBe('0.101');
    expect(await t.redis.exists(t.keys.resultApplied(ENTRY))).toBe(0);
  });

  it('order marker: a repair from an unconfirmed order sets it (entry id, ledger TTL); the next repair from that order is refused', async () => {
    const hash = ledgerFields('0.101', T0 - 60_000);
    await t.redis.hset(t.keys.ledger(SYM), hash);
    const marker = t.keys.orderAccounted(SYM, '11986721004');
    expect(await run(orderRepairDecision(hash), hash)).toMatchObject({ code: 'ok', events: 1 });
    expect(await t.redis.get(marker)).toBe(ENTRY);
    expect(await t.redis.pttl(marker)).toBeGreaterThan(86_000_000);

    // Another record of the same order (a retried publish; its own entry markers unset),
    // and the exchange moves once more by that size.
    const again = ledgerFields('0.1', T0 - 60_000, { version: 2 });
    await t.redis.del(t.keys.ledger(SYM), t.keys.evidenceUsed(ENTRY), t.keys.resultApplied(ENTRY));
    await t.redis.hset(t.keys.ledger(SYM), again);
    expect(await run(orderRepairDecision(again, '11986721004', '0.099'), again)).toMatchObject({
      code: 'evidence_used',
      events: 0,
    });
    expect(await t.redis.hgetall(t.keys.ledger(SYM))).toEqual(again);
    expect(await t.redis.exists(t.keys.evidenceUsed(ENTRY), t.keys.resultApplied(ENTRY))).toBe(0);
  });

  it('order marker: a repair from one fill of an order already accounted is refused (evidence_applied)', async () => {
    const hash = ledgerFields('0.101', T0 - 60_000);
    await t.redis.hset(t.keys.ledger(SYM), hash);
    await t.redis.set(t.keys.orderAccounted(SYM, 'ord-plan-1'), '1-0');
    expect(await run(repairDecision(hash), hash)).toMatchObject({ code: 'evidence_applied' });
    expect(await t.redis.hgetall(t.keys.ledger(SYM))).toEqual(hash);
    expect(await t.redis.exists(t.keys.evidenceUsed(ENTRY), t.keys.resultApplied(ENTRY))).toBe(0);
  });

  it('order marker of the wrong type: refused before any write, the key named', async () => {
    const hash = ledgerFields('0.101', T0 - 60_000);
    await t.redis.hset(t.keys.ledger(SYM), hash);
    const marker = t.keys.orderAccounted(SYM, '11986721004');
    await t.redis.rpush(marker, 'x');
    expect(await run(orderRepairDecision(hash), hash)).toEqual({
      code: 'wrong_type',
      key: marker,
      found: 'list',
    });
    expect(await t.redis.hgetall(t.keys.ledger(SYM))).toEqual(hash);
    expect(await t.redis.exists(t.keys.reconcileState(SYM))).toBe(0);
  });

  it('init conflict: a ledger amount that appeared after the read is never overwritten', async () => {
    await t.redis.hset(t.keys.ledger(SYM), { ledger_amt: '0.07' });
    const d = decide({
      symbol: SYM,
      snapshot: decodeSnapshot(snapshotFields('0.1', T0 - 500)),
      ledger: decodeLedger({}, EPS),
      lotSize: BTC_LOT,
      evidence: [],
      usedEvidence: new Set(),
      nowMs: T0,
      config: DRIFT_CONFIG,
    });
    expect(await run(d, {})).toMatchObject({ code: 'conflict' });
    expect(await t.redis.hgetall(t.keys.ledger(SYM))).toEqual({ ledger_amt: '0.07' });
  });

  it('fenced: a repair from an unconfirmed order writes nothing below the fence, without a fence, with a garbage or wrong-typed one', async () => {
    const hash = ledgerFields('0.101', T0 - 60_000);
    await t.redis.hset(t.keys.ledger(SYM), hash);
    // An engine hold on the symbol: the repair would clear it (hold, marker, event, state).
    await t.redis.set(t.keys.hold(SYM), '1', 'PX', 300_000);
    const at = String(await t.redis.call('PEXPIRETIME', t.keys.hold(SYM)));
    await t.redis.set(t.keys.holdOwner(SYM), `p34:${at}`, 'PX', 300_000);
    await t.redis.hset(t.keys.reconcileState(SYM), { status: 'HOLD', episode_reason: 'x' });
    await expectFencedEverywhere(t, 'reconcile', (e) => run(orderRepairDecision(hash), hash, e));
    expect(await t.redis.hget(t.keys.ledger(SYM), 'ledger_amt')).toBe('0.1');
  });

  it('fenced: a hold decision (hold, owner marker, HOLD_SET event, state) writes nothing below the fence', async () => {
    const hash = ledgerFields('0.101', T0 - 60_000);
    const hold: Decision = {
      ...repairDecision(hash),
      action: 'hold',
      status: 'HOLD',
      reason: 'qty_mismatch_no_evidence',
      holdPolicy: 'set',
    };
    await expectFencedEverywhere(t, 'reconcile', (e) => run(hold, {}, e));
    expect(await t.redis.get(t.keys.hold(SYM))).toBe('1');
    expect(await readEvents(t.redis, t.keys)).toHaveLength(1);
  });

  it('after SCRIPT FLUSH: a single call and pipelined calls all still run (NOSCRIPT re-sent)', async () => {
    const hash = ledgerFields('0.101', T0 - 60_000);
    await t.redis.hset(t.keys.ledger(SYM), hash);
    await t.redis.script('FLUSH');
    expect(await run(repairDecision(hash), hash)).toMatchObject({ code: 'ok', events: 1 });
    await t.redis.script('FLUSH');
    const hold: Decision = {
      ...repairDecision(hash),
      action: 'hold',
      status: 'HOLD',
      reason: 'qty_mismatch_no_evidence',
      holdPolicy: 'set',
    };
    const pipeline = scriptPipeline(t.redis, [reconcileCommit]);
    const replies: unknown[] = [];
    for (const symbol of ['AUSDT', 'BUSDT'])
      queueScript(
        pipeline,
        reconcileCommit,
        { ...commitArgs(t.keys, { ...hold, symbol }, {}, SETTINGS), epoch },
        (error, reply) => replies.push(error ?? reply),
      );
    await pipeline.exec();
    const held = { code: 'ok', holdBy: 'p34', newEpisode: true, events: 1, holdLost: false };
    expect(replies).toEqual([held, held]);
    expect(await t.redis.get(t.keys.hold('BUSDT'))).toBe('1');
  });
});
