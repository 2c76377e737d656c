/**
 * reconcile_read_batch against a real Redis: every reply shape (listed fields, the whole hash
 * when none is listed, {} when absent, a key of the wrong type in its slot), the error reply
 * for KEYS that do not come in sixes, and the NOSCRIPT path (SCRIPT FLUSH) in a single call
 * and inside a pipeline. Encode and decode without Redis:
 * test/unit/scripts/reconcile-read-batch.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeSnapshot } from '../../src/domain/snapshot.js';
import {
  type ReadBatch,
  type SymbolReads,
  batchReads,
  planReadBatches,
} from '../../src/reconcile/read.js';
import { reconcileReadBatch } from '../../src/redis/scripts/reconcile-read-batch.js';
import { RedisReplyError } from '../../src/redis/scripts/reply-errors.js';
import {
  luaSource,
  queueScript,
  runScript,
  scriptPipeline,
} from '../../src/redis/scripts/script.js';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import { T0, ledgerFields, snapshotFields, writeSymbol } from '../reconcile/fixtures.js';

const NOW = T0;

describe('reconcile_read_batch (real Redis)', () => {
  let t: TestRedis;
  beforeEach(() => {
    t = openTestRedis('rb');
  });
  afterEach(() => t.close());

  async function read(batch: ReadBatch): Promise<SymbolReads[]> {
    const entries = await runScript(t.redis, reconcileReadBatch, { symbolKeys: batch.keys });
    return batchReads(batch, null, entries);
  }

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
    const [a, b] = await read(batch);
    // decodeSnapshot reads no field beyond these: ts_iso and side are not read
    const { ts_iso: _iso, side: _side, ...readable } = snapshot;
    expect(a?.snapshot).toEqual({ kind: 'hash', fields: readable });
    expect(a?.ledger).toEqual({ kind: 'hash', fields: ledger });
    expect(a?.state).toEqual({ status: 'OK', reason: '' });
    expect(a?.lotSize).toEqual({
      kind: 'hash',
      fields: { step_size: '0.001', min_qty: '0.001', max_qty: '' },
    });
    expect(a).toMatchObject({ symbol: 'AUSDT', hold: '1', holdOwner: 'p34' });
    expect(a?.holdPttlMs).toBeGreaterThan(50_000);
    // The hold's absolute expiry, which the engine's owner marker records (SPEC §7).
    expect(a?.holdExpireMs).toBe(Number(await t.redis.call('PEXPIRETIME', t.keys.hold('AUSDT'))));
    expect(b).toMatchObject({
      symbol: 'BUSDT',
      snapshot: { kind: 'hash', fields: { foo: 'bar' } },
      ledger: { kind: 'hash', fields: {} },
      hold: null,
      holdPttlMs: -2,
      holdExpireMs: -2,
      holdOwner: null,
      state: {},
      lotSize: { kind: 'hash', fields: {} },
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
    const [a, b] = await read(batch);
    expect(a).toMatchObject({
      snapshot: { kind: 'error', problem: expect.stringContaining('WRONGTYPE') as unknown },
      ledger: { kind: 'error', problem: expect.stringContaining('WRONGTYPE') as unknown },
      hold: 'WRONGTYPE', // any value in the hold key is a hold
      holdPttlMs: -1,
      holdExpireMs: -1,
      // an unreadable marker, not "no marker" (a steady symbol needs "no marker")
      holdOwner: undefined,
      state: {},
      lotSize: { kind: 'error', problem: expect.stringContaining('WRONGTYPE') as unknown },
    });
    expect(b?.snapshot.kind).toBe('hash');
    expect(b?.holdOwner).toBeNull();
  });

  it('refuses KEYS that do not come in sixes: an error reply, typed', async () => {
    const failure = await t.redis
      .eval(luaSource('reconcile_read_batch'), 2, 'a', 'b', '{}')
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(String((failure as Error).message)).toMatch(/sixes/);
    await expect(
      runScript(t.redis, reconcileReadBatch, { symbolKeys: ['a', 'b'] }),
    ).rejects.toSatisfy(
      (error) => error instanceof RedisReplyError && error.code === 'REDIS_REPLY',
    );
  });

  it('after SCRIPT FLUSH: a single call and pipelined calls all still run (NOSCRIPT re-sent)', async () => {
    await writeSymbol(t.redis, t.keys, 'AUSDT', { snapshot: snapshotFields('0.062', NOW - 500) });
    const [batch, second] = planReadBatches(t.keys, ['AUSDT', 'BUSDT', 'CUSDT'], 2);
    await t.redis.script('FLUSH');
    expect((await read(batch as ReadBatch))[0]?.snapshot.kind).toBe('hash');
    await t.redis.script('FLUSH');
    const pipeline = scriptPipeline(t.redis, [reconcileReadBatch]);
    const replies: string[][] = [];
    ([batch, second] as ReadBatch[]).forEach((b, i) =>
      queueScript(pipeline, reconcileReadBatch, { symbolKeys: b.keys }, (error, entries) => {
        replies[i] = batchReads(b, error, entries).map((r) => `${r.symbol}:${r.snapshot.kind}`);
      }),
    );
    await pipeline.exec();
    expect(replies).toEqual([['AUSDT:hash', 'BUSDT:hash'], ['CUSDT:hash']]);
  });
});
