/**
 * reconcile_steady against a real Redis: rows written (liveness and amounts; status and
 * since_ts left alone), a wrong-typed state key refused alone by index, the error reply for
 * rows that do not match the keys, the fence (SPEC §11: nothing written below it, without it,
 * with a garbage or wrong-typed one), and the NOSCRIPT path (SCRIPT FLUSH) in a single call
 * and inside a pipeline. Encode and decode without Redis: test/unit/scripts/reconcile-steady.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STATE_FIELDS } from '../../src/reconcile/commit.js';
import { RedisReplyError } from '../../src/redis/scripts/reply-errors.js';
import { type SteadyArgs, reconcileSteady } from '../../src/redis/scripts/reconcile-steady.js';
import {
  luaSource,
  queueScript,
  runScript,
  scriptPipeline,
} from '../../src/redis/scripts/script.js';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import { testTerm } from '../helpers/terms.js';
import { expectFencedEverywhere } from './fence-cases.js';
import { T0 } from '../reconcile/fixtures.js';

const NOW = T0;

describe('reconcile_steady (real Redis)', () => {
  let t: TestRedis;
  let epoch: number;
  beforeEach(async () => {
    t = openTestRedis('st');
    epoch = (await testTerm(t.redis, t.keys, 'reconcile')).acquiredEpoch;
  });
  afterEach(() => t.close());

  const row = (symbol: string, age: string) => ({
    symbol,
    values: ['0.062', '0.062', '0', '0', 'LONG', 'LONG', age, 'exchange and ledger agree'],
  });
  const args = (rows: SteadyArgs['rows'], nowMs = NOW, at = epoch): SteadyArgs => ({
    keys: t.keys,
    epoch: at,
    nowMs,
    fields: STATE_FIELDS,
    rows,
  });

  it('writes liveness and amounts, leaves status and since_ts alone', async () => {
    await t.redis.hset(t.keys.reconcileState('AUSDT'), { status: 'OK', since_ts: '5' });
    const outcomes = await runScript(
      t.redis,
      reconcileSteady,
      args([row('AUSDT', '1.500'), row('BUSDT', '2.000')]),
    );
    expect(outcomes).toEqual([{ kind: 'written' }, { kind: 'written' }]);
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

  it('a state key of the wrong type fails alone, reported by index with its key and type', async () => {
    await t.redis.set(t.keys.reconcileState('BUSDT'), 'x');
    const outcomes = await runScript(
      t.redis,
      reconcileSteady,
      args([row('AUSDT', '1.000'), row('BUSDT', '1.000'), row('CUSDT', '1.000')]),
    );
    expect(outcomes).toEqual([
      { kind: 'written' },
      { kind: 'wrong_type', key: t.keys.reconcileState('BUSDT'), found: 'string' },
      { kind: 'written' },
    ]);
    expect(await t.redis.get(t.keys.reconcileState('BUSDT'))).toBe('x');
    expect(await t.redis.hget(t.keys.reconcileState('CUSDT'), 'ts_ms')).toBe(String(NOW));
  });

  it('refuses rows that do not match the keys, writing nothing (an error reply, typed)', async () => {
    const call = reconcileSteady.encode(args([row('AUSDT', '1.000')]));
    const keys = [
      t.keys.reconcileState('AUSDT'),
      t.keys.reconcileState('BUSDT'),
      t.keys.fence('reconcile'),
    ];
    const failure = await t.redis
      .eval(luaSource('reconcile_steady'), 3, ...keys, JSON.stringify(call.argv))
      .catch((error: unknown) => error);
    expect(String((failure as Error).message)).toMatch(/one row per state key/);
    expect(await t.redis.exists(t.keys.reconcileState('AUSDT'))).toBe(0);
    // Through the layer the same refusal is a typed error.
    const sneaky = { ...reconcileSteady, encode: () => ({ ...call, keys }) };
    await expect(runScript(t.redis, sneaky, args([]))).rejects.toSatisfy(
      (error) => error instanceof RedisReplyError && error.kind === null,
    );
  });

  it('fenced: the whole batch writes nothing below the fence, without a fence, with a garbage or wrong-typed one', async () => {
    await t.redis.hset(t.keys.reconcileState('AUSDT'), { status: 'OK', since_ts: '5' });
    const rows = [row('AUSDT', '1.500'), row('BUSDT', '2.000')];
    await expectFencedEverywhere(t, 'reconcile', (e) =>
      runScript(t.redis, reconcileSteady, args(rows, NOW, e)),
    );
    expect(await t.redis.hget(t.keys.reconcileState('BUSDT'), 'ts_ms')).toBe(String(NOW));
  });

  it('after SCRIPT FLUSH: a single call and pipelined calls all still run (NOSCRIPT re-sent)', async () => {
    await t.redis.script('FLUSH');
    expect(await runScript(t.redis, reconcileSteady, args([row('AUSDT', '1.000')]))).toEqual([
      { kind: 'written' },
    ]);
    await t.redis.script('FLUSH');
    const pipeline = scriptPipeline(t.redis, [reconcileSteady]);
    const replies: unknown[] = [];
    [[row('AUSDT', '2.000')], [row('BUSDT', '2.000'), row('CUSDT', '2.000')]].forEach((rows, i) =>
      queueScript(pipeline, reconcileSteady, args(rows, NOW + 1000), (error, outcomes) => {
        replies[i] = error ?? outcomes;
      }),
    );
    await pipeline.exec();
    expect(replies).toEqual([[{ kind: 'written' }], [{ kind: 'written' }, { kind: 'written' }]]);
    for (const s of ['AUSDT', 'BUSDT', 'CUSDT'])
      expect(await t.redis.hget(t.keys.reconcileState(s), 'ts_ms')).toBe(String(NOW + 1000));
  });
});
