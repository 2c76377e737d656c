/**
 * reconcile_commit.lua tested three ways (STYLE.md): encode/decode without Redis, every
 * status code against real Redis, and after SCRIPT FLUSH (the NOSCRIPT path).
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { epsilonFor } from '../../src/domain/amount.js';
import { type Decision, decide } from '../../src/domain/drift.js';
import { parseApplyResult } from '../../src/domain/apply-result.js';
import type { Evidence } from '../../src/domain/evidence.js';
import { decodeLedger } from '../../src/domain/ledger.js';
import { decodeSnapshot } from '../../src/domain/snapshot.js';
import {
  decodeCommitReply,
  encodeCommit,
  reconcileCommitScript,
} from '../../src/reconcile/commit.js';
import { CommitWriter } from '../../src/reconcile/commit-writer.js';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/dev/redis-server.js';
import { buildKeys } from '../../src/redis/keys.js';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import {
  BTC_LOT,
  DRIFT_CONFIG,
  T0,
  addResult,
  fill,
  flatResult,
  ledgerFields,
  snapshotFields,
  writeSymbol,
} from './fixtures.js';
import { ManualClock, makeEngine, readEvents } from './harness.js';

const SYM = 'BTCUSDT';
const EPS = epsilonFor(BTC_LOT.stepSize);
const SETTINGS = { nowMs: T0, holdTtlMs: 300_000, ledgerTtlMs: 86_400_000, evidenceTtlMs: 600_000 };
const ENTRY = `${T0 - 5000}-0`;

function repairDecision(ledgerHash: Record<string, string>): Decision {
  const d = decide({
    symbol: SYM,
    snapshot: decodeSnapshot(snapshotFields('0.1', T0 - 500)),
    ledger: decodeLedger(ledgerHash, EPS),
    lotSize: BTC_LOT,
    evidence: [fill(ENTRY, flatResult(SYM, 'SELL', '0.001', T0 - 5000))],
    usedEvidence: new Set(),
    nowMs: T0,
    config: DRIFT_CONFIG,
  });
  expect(d.action).toBe('auto_repair');
  return d;
}

/** A repair whose evidence is an order whose fill is not confirmed (a Binance ACK). */
function orderRepairDecision(
  ledgerHash: Record<string, string>,
  orderId = '11986721004',
  exchange = '0.1',
): Decision {
  const parsed = parseApplyResult(ENTRY, {
    plan_id: 'plan-ack',
    symbol: SYM,
    executed: 'True',
    side: 'SELL',
    filled_qty: '0',
    close_qty: '0.001',
    order_id: orderId,
    ts_ms: String(T0 - 5000),
  });
  if (parsed.kind !== 'unconfirmed_order') throw new Error(`not an order: ${parsed.kind}`);
  const d = decide({
    symbol: SYM,
    snapshot: decodeSnapshot(snapshotFields(exchange, T0 - 500)),
    ledger: decodeLedger(ledgerHash, EPS),
    lotSize: BTC_LOT,
    evidence: [parsed.order],
    usedEvidence: new Set(),
    nowMs: T0,
    config: DRIFT_CONFIG,
  });
  expect(d).toMatchObject({ action: 'auto_repair', evidence: { kind: 'unconfirmed_order' } });
  return d;
}

describe('reconcile_commit encoding (no Redis)', () => {
  const keys = buildKeys('q');

  it('passes every key in KEYS: 5 fixed, then two markers per evidence entry', () => {
    const enc = encodeCommit(
      keys,
      repairDecision(ledgerFields('0.101', T0 - 60_000)),
      ledgerFields('0.101', T0 - 60_000),
      SETTINGS,
    );
    expect(enc.keys).toEqual([
      'q:reconcile:hold:BTCUSDT',
      'q:posguard:hold:owner:BTCUSDT',
      'q:reconcile:state:BTCUSDT',
      'q:stream:reconcile.events',
      'q:position:ledger:BTCUSDT',
      `q:posguard:evidence:used:${ENTRY}`,
      `q:posguard:result:applied:${ENTRY}`,
      // One fill's order is checked: a repair already accounted for it refuses this one.
      'q:posguard:order:accounted:BTCUSDT:ord-plan-1',
    ]);
    const payload = JSON.parse(enc.args[0]) as Record<string, Record<string, string> | string>;
    expect(payload).toMatchObject({
      action: 'repair',
      order_marker: 'check',
      status: 'REPAIRED',
      reason: 'auto_fixed',
      hold_policy: 'clear',
      now_ms: String(T0),
    });
    expect(payload.expect).toMatchObject({
      version: '1',
      ledger_amt: '0.101',
      last_known_amt: '0.101',
    });
    expect(payload.ledger).toMatchObject({ ledger_amt: '0.1', version: '2', source: 'p34_auto' });
    expect(payload.ledger).not.toHaveProperty('last_result_id');
    expect(payload.event).toMatchObject({
      old_ledger_amt: '0.101',
      new_ledger_amt: '0.1',
      evidence_entry_ids: ENTRY,
    });
  });

  it('a repair from an unconfirmed order sets its order marker; pending sums and unsafe ids carry none', () => {
    const hash = ledgerFields('0.101', T0 - 60_000);
    const enc = encodeCommit(keys, orderRepairDecision(hash), hash, SETTINGS);
    expect(enc.keys.slice(5)).toEqual([
      `q:posguard:evidence:used:${ENTRY}`,
      `q:posguard:result:applied:${ENTRY}`,
      'q:posguard:order:accounted:BTCUSDT:11986721004',
    ]);
    expect(JSON.parse(enc.args[0])).toMatchObject({ order_marker: 'set' });
    const unsafe = orderRepairDecision(hash, 'id with spaces');
    expect(unsafe.evidence?.orderId).toBe('id with spaces');
    const plain = encodeCommit(keys, unsafe, hash, SETTINGS);
    expect(plain.keys).toHaveLength(7);
    expect(JSON.parse(plain.args[0])).toMatchObject({ order_marker: '' });
    const d = repairDecision(hash);
    const sum = { ...d, evidence: { ...(d.evidence as Evidence), kind: 'pending_sum' as const } };
    expect(encodeCommit(keys, sum, hash, SETTINGS).keys).toHaveLength(7);
  });

  it('a status-only commit carries no ledger change', () => {
    const d: Decision = {
      ...repairDecision(ledgerFields('0.101', T0 - 60_000)),
      action: 'hold',
      status: 'HOLD',
      reason: 'qty_mismatch_no_evidence',
      holdPolicy: 'set',
    };
    const enc = encodeCommit(keys, d, {}, SETTINGS);
    expect(enc.keys).toHaveLength(5);
    const payload = JSON.parse(enc.args[0]) as Record<string, unknown>;
    expect(payload.action).toBe('status');
    expect(payload).not.toHaveProperty('ledger');
  });

  it('decodes replies strictly', () => {
    expect(decodeCommitReply(['ok', 'p34', 1, 2, 0])).toEqual({
      code: 'ok',
      holdBy: 'p34',
      newEpisode: true,
      events: 2,
      holdLost: false,
    });
    expect(decodeCommitReply(['conflict', '', 0, 0, 0])).toEqual({
      code: 'conflict',
      holdBy: '',
      newEpisode: false,
      events: 0,
      holdLost: false,
    });
    expect(decodeCommitReply(['ok', 'p34', 0, 0, 1])).toMatchObject({ holdLost: true });
    expect(decodeCommitReply(['wrong_type', 'q:reconcile:state:X', 'list'])).toEqual({
      code: 'wrong_type',
      key: 'q:reconcile:state:X',
      found: 'list',
    });
    expect(decodeCommitReply(['OK', 'p34', 1, 2, 0])).toBeNull();
    expect(decodeCommitReply(['ok', 'someone', 1, 2, 0])).toBeNull();
    expect(decodeCommitReply(['ok', 'p34', '1', 2, 0])).toBeNull();
    expect(decodeCommitReply(['ok', 'p34', 1, 2])).toBeNull();
    expect(decodeCommitReply(['ok', 'p34', 1, 2, 2])).toBeNull();
    expect(decodeCommitReply(['wrong_type', 'k'])).toBeNull();
    expect(decodeCommitReply('ok')).toBeNull();
  });
});

describe('reconcile_commit against Redis', () => {
  let t: TestRedis;
  beforeEach(() => {
    t = openTestRedis('rs');
  });
  afterEach(() => t.close());

  async function run(d: Decision, rawLedger: Record<string, string>): Promise<unknown> {
    const enc = encodeCommit(t.keys, d, rawLedger, SETTINGS);
    return decodeCommitReply(await reconcileCommitScript.run(t.redis, enc.keys, enc.args));
  }

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
});

describe('after SCRIPT FLUSH (private redis-server, so other files are not disturbed)', () => {
  let server: EmbeddedRedis;
  let redis: Redis;
  const keys = buildKeys('flush');

  beforeAll(async () => {
    server = await startEmbeddedRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('an engine cycle reloads the read script (NOSCRIPT in the read pipeline)', async () => {
    const clock = new ManualClock(T0);
    await writeSymbol(redis, keys, SYM, {
      snapshot: snapshotFields('0.1', T0 - 500),
      ledger: ledgerFields('0.101', T0 - 60_000),
    });
    await addResult(redis, keys, ENTRY, flatResult(SYM, 'SELL', '0.001', T0 - 5000));
    const h = makeEngine(redis, keys, clock, { url: server.url });
    await h.engine.runOnce({ dryRun: true });
    await redis.script('FLUSH');
    const report = await h.engine.runOnce();
    expect(report.outcomes[0]?.commit).toMatchObject({ code: 'ok' });
    expect(await redis.hget(keys.reconcileState(SYM), 'status')).toBe('REPAIRED');
  });

  it('the commit writer reloads and re-runs only the commits that met NOSCRIPT', async () => {
    const other = buildKeys('flush2');
    const hash = ledgerFields('0.101', T0 - 60_000);
    await redis.hset(other.ledger('ETHUSDT'), hash);
    const d = { ...repairDecision(hash), symbol: 'ETHUSDT' };
    let reloads = 0;
    const writer = new CommitWriter({
      redis,
      keys: other,
      cadenceSec: 1,
      symbols: 1,
      reloadScripts: async () => {
        reloads += 1;
        await redis.script('LOAD', reconcileCommitScript.source);
      },
    });
    await redis.script('FLUSH');
    const reads = {
      symbol: 'ETHUSDT',
      snapshot: { kind: 'hash', fields: {} },
      ledger: { kind: 'hash', fields: hash },
      hold: null,
      holdPttlMs: -2,
      holdExpireMs: -2,
      holdOwner: null,
      state: {},
      lotSize: {},
    } as const;
    const results = await writer.write({
      decisions: [d],
      reads: [reads],
      settings: SETTINGS,
      cycle: 1,
    });
    expect(reloads).toBe(1);
    expect(results).toEqual([
      { code: 'ok', holdBy: '', newEpisode: false, events: 1, holdLost: false },
    ]);
    expect(await redis.hget(other.ledger('ETHUSDT'), 'ledger_amt')).toBe('0.1');
    expect(await redis.exists(other.reconcileHeartbeat)).toBe(1);
  });
});
