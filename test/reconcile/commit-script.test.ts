/**
 * A decision as the arguments of its `reconcile_commit` call (src/reconcile/commit.ts), and
 * the engine after SCRIPT FLUSH: a flush mid-run costs nothing — the script layer re-sends
 * the read, steady and commit calls that meet NOSCRIPT, and the cycle just works. The
 * script's statuses against Redis: test/scripts/reconcile-commit.test.ts.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/domain/drift.js';
import type { Evidence } from '../../src/domain/evidence.js';
import { type CommitSettings, commitArgs } from '../../src/reconcile/commit.js';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/dev/redis-server.js';
import { type Keys, buildKeys } from '../../src/redis/keys.js';
import { reconcileCommit } from '../../src/redis/scripts/reconcile-commit.js';
import { isSteady } from '../../src/reconcile/steady.js';
import { ENTRY, SETTINGS, SYM, orderRepairDecision, repairDecision } from './decisions.js';
import {
  T0,
  addResult,
  flatResult,
  ledgerFields,
  snapshotFields,
  writeSymbol,
} from './fixtures.js';
import { ManualClock, makeEngine } from './harness.js';

/** KEYS and the ARGV object of a decision's commit. */
function encodeCommit(
  keys: Keys,
  d: Decision,
  rawLedger: Record<string, string>,
  s: CommitSettings,
) {
  return reconcileCommit.encode({ ...commitArgs(keys, d, rawLedger, s), epoch: 7 });
}

describe('reconcile_commit encoding (no Redis)', () => {
  const keys = buildKeys('q');

  it('passes every key in KEYS: 5 fixed and the reconcile fence, then two markers per evidence entry', () => {
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
      'q:posguard:fence:reconcile',
      `q:posguard:evidence:used:${ENTRY}`,
      `q:posguard:result:applied:${ENTRY}`,
      // One fill's order is checked: a repair already accounted for it refuses this one.
      'q:posguard:order:accounted:BTCUSDT:ord-plan-1',
    ]);
    const payload = enc.argv as Record<string, Record<string, string> | string>;
    expect(payload).toMatchObject({
      epoch: 7,
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
    expect(enc.keys.slice(6)).toEqual([
      `q:posguard:evidence:used:${ENTRY}`,
      `q:posguard:result:applied:${ENTRY}`,
      'q:posguard:order:accounted:BTCUSDT:11986721004',
    ]);
    expect(enc.argv).toMatchObject({ order_marker: 'set' });
    const unsafe = orderRepairDecision(hash, 'id with spaces');
    expect(unsafe.evidence?.orderId).toBe('id with spaces');
    const plain = encodeCommit(keys, unsafe, hash, SETTINGS);
    expect(plain.keys).toHaveLength(8);
    expect(plain.argv).toMatchObject({ order_marker: '' });
    const d = repairDecision(hash);
    const sum = { ...d, evidence: { ...(d.evidence as Evidence), kind: 'pending_sum' as const } };
    expect(encodeCommit(keys, sum, hash, SETTINGS).keys).toHaveLength(8);
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
    expect(enc.keys).toHaveLength(6);
    const payload = enc.argv;
    expect(payload.action).toBe('status');
    expect(payload).not.toHaveProperty('ledger');
  });
});

describe('after SCRIPT FLUSH (private redis-server, so other files are not disturbed)', () => {
  let server: EmbeddedRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = await startEmbeddedRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('a dry run, then a flush: the next cycle reads and repairs as if nothing happened', async () => {
    const keys = buildKeys('flush');
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

  it('a flush between cycles: read batches, steady batches and commits all meet NOSCRIPT and all run', async () => {
    const keys = buildKeys('flush2');
    const symbols = ['AUSDT', 'BUSDT', 'CUSDT', SYM];
    const clock = new ManualClock(T0);
    for (const s of ['AUSDT', 'BUSDT', 'CUSDT'])
      await writeSymbol(redis, keys, s, {
        snapshot: snapshotFields('0.062', T0 - 500),
        ledger: ledgerFields('0.062', T0 - 60_000),
      });
    await writeSymbol(redis, keys, SYM, {
      snapshot: snapshotFields('0.1', T0 - 500),
      ledger: ledgerFields('0.05', T0 - 60_000),
    });
    const h = makeEngine(redis, keys, clock, {
      url: server.url,
      env: { P34_ALLOWLIST: symbols.join(',') },
    });
    await h.engine.runOnce(); // every state stored; BTCUSDT holds (no evidence)
    clock.advance(1000);
    await redis.script('FLUSH');
    const report = await h.engine.runOnce();
    // Three steady symbols (one reconcile_steady call) and one commit (the hold re-armed).
    expect(report.outcomes.filter((o) => isSteady(o.decision, o.reads))).toHaveLength(3);
    expect(report.outcomes.map((o) => [o.decision.symbol, o.decision.status, o.commit])).toEqual([
      ['AUSDT', 'OK', { code: 'ok', holdBy: '', newEpisode: false, events: 0, holdLost: false }],
      ['BUSDT', 'OK', { code: 'ok', holdBy: '', newEpisode: false, events: 0, holdLost: false }],
      ['CUSDT', 'OK', { code: 'ok', holdBy: '', newEpisode: false, events: 0, holdLost: false }],
      [SYM, 'HOLD', { code: 'ok', holdBy: 'p34', newEpisode: false, events: 0, holdLost: false }],
    ]);
    for (const s of symbols)
      expect(await redis.hget(keys.reconcileState(s), 'ts_ms'), s).toBe(String(clock.ms));
    expect(JSON.parse((await redis.get(keys.reconcileHeartbeat)) ?? '{}')).toMatchObject({
      cycle: 2,
      failing_symbols: [],
    });
  });
});
