/**
 * reconcile_read_batch.lua and reconcile_steady.lua tested three ways (STYLE.md): reply
 * decoding without Redis, every reply shape and status against real Redis, and after
 * SCRIPT FLUSH (the NOSCRIPT path).
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_EPSILON } from '../../src/domain/amount.js';
import { decide } from '../../src/domain/drift.js';
import { decodeLedger } from '../../src/domain/ledger.js';
import { decodeSnapshot } from '../../src/domain/snapshot.js';
import { CommitWriter } from '../../src/reconcile/commit-writer.js';
import { STATE_FIELDS } from '../../src/reconcile/commit.js';
import {
  type ReadBatch,
  type SymbolReads,
  parseReadBatch,
  planReadBatches,
  queueReadBatch,
  reconcileReadScript,
} from '../../src/reconcile/read.js';
import {
  decodeSteadyReply,
  encodeSteadyBatch,
  reconcileSteadyScript,
} from '../../src/reconcile/steady.js';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/dev/redis-server.js';
import { buildKeys } from '../../src/redis/keys.js';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import { DRIFT_CONFIG, T0, ledgerFields, snapshotFields, writeSymbol } from './fixtures.js';

const NOW = T0;

async function readBatch(redis: Redis, batch: ReadBatch): Promise<SymbolReads[]> {
  await reconcileReadScript.ensureLoaded(redis);
  let result: SymbolReads[] = [];
  const pipeline = redis.pipeline();
  queueReadBatch(pipeline, batch, (error, reply) => (result = parseReadBatch(batch, error, reply)));
  await pipeline.exec();
  return result;
}

describe('read batch reply decoding (no Redis)', () => {
  const batch = planReadBatches(buildKeys('q'), ['AUSDT', 'BUSDT'])[0] as ReadBatch;

  it('a failed call or a reply of the wrong shape makes the whole batch unreadable', () => {
    for (const [error, reply] of [
      [new Error('OOM command not allowed'), null],
      [null, 42],
      [null, 'not json'],
      [null, '[]'],
    ] as const) {
      const reads = parseReadBatch(batch, error, reply);
      expect(reads.map((r) => r.symbol)).toEqual(['AUSDT', 'BUSDT']);
      for (const r of reads) {
        expect(r.snapshot.kind).toBe('error');
        expect(r.ledger.kind).toBe('error');
      }
    }
  });

  it('a bad entry makes only its symbol unreadable', () => {
    const good = [{ full: {} }, { full: {} }, '', -2, '', { full: {} }, { full: {} }, -2];
    const reads = parseReadBatch(batch, null, JSON.stringify([good, ['short']]));
    expect(reads[0]?.snapshot).toEqual({ kind: 'hash', fields: {} });
    expect(reads[1]?.snapshot.kind).toBe('error');
  });

  it('plans batches of the given size with six keys per symbol', () => {
    const batches = planReadBatches(buildKeys('q'), ['AUSDT', 'BUSDT', 'CUSDT'], 2);
    expect(batches.map((b) => [b.offset, b.symbols.length, b.keys.length])).toEqual([
      [0, 2, 12],
      [2, 1, 6],
    ]);
  });
});

describe('reconcile_read_batch against Redis', () => {
  let t: TestRedis;
  beforeEach(() => {
    t = openTestRedis('rb');
  });
  afterEach(() => t.close());

  it('reads the listed fields, the whole hash when none is listed, {} when absent', async () => {
    const snapshot = snapshotFields('0.062', NOW - 500);
    const ledger = ledgerFields('0.062', NOW - 60_000, { lastResultId: '1-0' });
    await writeSymbol(t.redis, t.keys, 'AUSDT', { snapshot, ledger });
    await t.redis.hset(t.keys.reconcileState('AUSDT'), { status: 'OK', reason: '', detail: 'x' });
    await t.redis.set(t.keys.hold('AUSDT'), '1', 'PX', 60_000);
    await t.redis.set(t.keys.holdOwner('AUSDT'), 'p34');
    // BUSDT: a snapshot hash with none of the snapshot fields; nothing else.
    await t.redis.hset(t.keys.snapshot('BUSDT'), 'foo', 'bar');
    const batch = planReadBatches(t.keys, ['AUSDT', 'BUSDT'])[0] as ReadBatch;
    const [a, b] = await readBatch(t.redis, batch);
    // decodeSnapshot reads no field beyond these: ts_iso and side are not read
    const { ts_iso: _iso, side: _side, ...readable } = snapshot;
    expect(a?.snapshot).toEqual({ kind: 'hash', fields: readable });
    expect(a?.ledger).toEqual({ kind: 'hash', fields: ledger });
    expect(a?.state).toEqual({ status: 'OK', reason: '' });
    expect(a?.lotSize).toEqual({ step_size: '0.001', min_qty: '0.001', max_qty: '' });
    expect(a).toMatchObject({ hold: '1', holdOwner: 'p34' });
    expect(a?.holdPttlMs).toBeGreaterThan(50_000);
    // The hold's absolute expiry, which the engine's owner marker records (SPEC §7).
    expect(a?.holdExpireMs).toBe(Number(await t.redis.call('PEXPIRETIME', t.keys.hold('AUSDT'))));
    expect(b).toMatchObject({
      snapshot: { kind: 'hash', fields: { foo: 'bar' } },
      ledger: { kind: 'hash', fields: {} },
      hold: null,
      holdPttlMs: -2,
      holdExpireMs: -2,
      holdOwner: null,
      state: {},
      lotSize: {},
    });
    // …so the decisions match the full hashes: B's snapshot is unreadable, not missing.
    expect(decodeSnapshot(b?.snapshot.kind === 'hash' ? b.snapshot.fields : {})).toMatchObject({
      kind: 'invalid',
    });
  });

  it('reports a key of the wrong type in its slot (LESSONS #18), the rest still reads', async () => {
    await t.redis.set(t.keys.snapshot('AUSDT'), 'x');
    await t.redis.rpush(t.keys.ledger('AUSDT'), 'x');
    await t.redis.hset(t.keys.hold('AUSDT'), 'x', '1');
    await t.redis.sadd(t.keys.holdOwner('AUSDT'), 'x');
    await t.redis.set(t.keys.reconcileState('AUSDT'), 'x');
    await t.redis.set(t.keys.symbolLotSize('AUSDT'), 'x');
    await writeSymbol(t.redis, t.keys, 'BUSDT', { snapshot: snapshotFields('1', NOW - 500) });
    const batch = planReadBatches(t.keys, ['AUSDT', 'BUSDT'])[0] as ReadBatch;
    const [a, b] = await readBatch(t.redis, batch);
    expect(a).toMatchObject({
      snapshot: { kind: 'error', problem: expect.stringContaining('WRONGTYPE') as unknown },
      ledger: { kind: 'error', problem: expect.stringContaining('WRONGTYPE') as unknown },
      hold: 'WRONGTYPE', // any value in the hold key is a hold
      holdPttlMs: -1,
      holdExpireMs: -1,
      holdOwner: null,
      state: {},
      lotSize: {},
    });
    expect(b?.snapshot.kind).toBe('hash');
  });

  it('refuses KEYS that do not come in sixes', async () => {
    await expect(
      reconcileReadScript.run(t.redis, ['a', 'b'], [JSON.stringify({})]),
    ).rejects.toThrow(/sixes/);
  });
});

describe('reconcile_steady', () => {
  let t: TestRedis;
  beforeEach(() => {
    t = openTestRedis('st');
  });
  afterEach(() => t.close());

  const row = (symbol: string, age: string) => ({
    kind: 'steady' as const,
    stateKey: t.keys.reconcileState(symbol),
    values: ['0.062', '0.062', '0', '0', 'LONG', 'LONG', age, 'exchange and ledger agree'],
  });

  it('writes liveness and amounts, leaves status and since_ts alone', async () => {
    await t.redis.hset(t.keys.reconcileState('AUSDT'), { status: 'OK', since_ts: '5' });
    const { keys, args } = encodeSteadyBatch([row('AUSDT', '1.500'), row('BUSDT', '2.000')], NOW);
    const reply = await reconcileSteadyScript.run(t.redis, keys, args);
    expect(decodeSteadyReply(reply, 2)).toEqual([
      { code: 'ok', holdBy: '', newEpisode: false, events: 0, holdLost: false },
      { code: 'ok', holdBy: '', newEpisode: false, events: 0, holdLost: false },
    ]);
    const a = await t.redis.hgetall(t.keys.reconcileState('AUSDT'));
    expect(a).toMatchObject({
      status: 'OK',
      since_ts: '5',
      last_seen_ts: String(Math.floor(NOW / 1000)),
      ts_ms: String(NOW),
      snapshot_age_sec: '1.500',
      detail: 'exchange and ledger agree',
    });
    expect(Object.keys(a).sort()).toEqual(
      ['status', 'since_ts', 'last_seen_ts', 'ts_ms', ...STATE_FIELDS].sort(),
    );
  });

  it('a state key of the wrong type fails alone, reported by index', async () => {
    await t.redis.set(t.keys.reconcileState('BUSDT'), 'x');
    const rows = [row('AUSDT', '1.000'), row('BUSDT', '1.000'), row('CUSDT', '1.000')];
    const { keys, args } = encodeSteadyBatch(rows, NOW);
    const reply = await reconcileSteadyScript.run(t.redis, keys, args);
    expect(reply).toEqual([2, 2, `wrong_type ${t.keys.reconcileState('BUSDT')} string`]);
    const results = decodeSteadyReply(reply, 3);
    expect(results?.map((r) => r.code)).toEqual(['ok', 'wrong_type', 'ok']);
    expect(results?.[1]).toEqual({
      code: 'wrong_type',
      key: t.keys.reconcileState('BUSDT'),
      found: 'string',
    });
    expect(await t.redis.hget(t.keys.reconcileState('CUSDT'), 'ts_ms')).toBe(String(NOW));
  });

  it('refuses rows that do not match the keys, writing nothing', async () => {
    const { keys, args } = encodeSteadyBatch([row('AUSDT', '1.000')], NOW);
    await expect(
      reconcileSteadyScript.run(t.redis, [...keys, t.keys.reconcileState('BUSDT')], args),
    ).rejects.toThrow(/one row per key/);
    expect(await t.redis.exists(t.keys.reconcileState('AUSDT'))).toBe(0);
  });

  it('decodes replies strictly', () => {
    expect(decodeSteadyReply([2], 2)).toHaveLength(2);
    expect(decodeSteadyReply([1], 2)).toBeNull(); // a row unaccounted for
    expect(decodeSteadyReply([0, 1, 'e', 1, 'e'], 2)).toBeNull(); // the same row twice
    expect(decodeSteadyReply([0, 3, 'e'], 1)).toBeNull(); // out of range
    expect(decodeSteadyReply('OK', 1)).toBeNull();
  });
});

describe('batch scripts after SCRIPT FLUSH (private redis-server)', () => {
  let server: EmbeddedRedis;
  let redis: Redis;
  const keys = buildKeys('flushb');

  beforeAll(async () => {
    server = await startEmbeddedRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('the commit writer reloads and re-runs a steady batch that met NOSCRIPT', async () => {
    const d = decide({
      symbol: 'AUSDT',
      snapshot: decodeSnapshot(snapshotFields('0.062', NOW - 500)),
      ledger: decodeLedger(ledgerFields('0.062', NOW - 60_000), DEFAULT_EPSILON),
      lotSize: null,
      evidence: [],
      usedEvidence: new Set(),
      nowMs: NOW,
      config: DRIFT_CONFIG,
    });
    const state = { status: 'OK', reason: '', episode_reason: '', hold_by: '' };
    await redis.hset(keys.reconcileState('AUSDT'), state);
    let reloads = 0;
    const writer = new CommitWriter({
      redis,
      keys,
      cadenceSec: 1,
      symbols: 1,
      reloadScripts: async () => {
        reloads += 1;
        await redis.script('LOAD', reconcileSteadyScript.source);
      },
    });
    await redis.script('FLUSH');
    const reads: SymbolReads = {
      symbol: 'AUSDT',
      snapshot: { kind: 'hash', fields: {} },
      ledger: { kind: 'hash', fields: {} },
      hold: null,
      holdPttlMs: -2,
      holdExpireMs: -2,
      holdOwner: null,
      state,
      lotSize: {},
    };
    const settings = { nowMs: NOW, holdTtlMs: 300_000, ledgerTtlMs: 1, evidenceTtlMs: 1 };
    const results = await writer.write({ decisions: [d], reads: [reads], settings, cycle: 1 });
    expect(reloads).toBe(1);
    expect(results).toEqual([
      { code: 'ok', holdBy: '', newEpisode: false, events: 0, holdLost: false },
    ]);
    expect(await redis.hget(keys.reconcileState('AUSDT'), 'ts_ms')).toBe(String(NOW));
  });
});
