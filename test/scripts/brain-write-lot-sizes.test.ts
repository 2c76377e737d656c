/**
 * brain_write_lot_sizes against a real Redis: lot sizes written (no TTL), a wrong-typed key
 * refused alone by index, batching, the fence (SPEC §11: nothing written below it, without
 * it, with a garbage or wrong-typed one), the caller-bug error, and the NOSCRIPT path (SCRIPT
 * FLUSH). Encode and decode without Redis: test/unit/scripts/brain-write-lot-sizes.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAmount } from '../../src/domain/amount.js';
import { encodeLotSize } from '../../src/domain/lot-size.js';
import {
  LOT_SIZE_WRITE_BATCH,
  type LotSizeWrite,
  brainWriteLotSizes,
  writeLotSizes,
} from '../../src/redis/scripts/brain-write-lot-sizes.js';
import { luaSource, runScript } from '../../src/redis/scripts/script.js';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import { testTerm } from '../helpers/terms.js';
import { expectFencedEverywhere } from './fence-cases.js';

const lot = (step: string, fetchedMs = 1_767_225_600_000) =>
  encodeLotSize(
    { stepSize: parseAmount(step)!, minQty: parseAmount(step)!, maxQty: null },
    fetchedMs,
  );

describe('brain_write_lot_sizes (real Redis)', () => {
  let t: TestRedis;
  let epoch: number;
  beforeEach(async () => {
    t = openTestRedis('lot');
    epoch = (await testTerm(t.redis, t.keys, 'brain-poller')).acquiredEpoch;
  });
  afterEach(() => t.close());

  const write = (symbol: string, step: string): LotSizeWrite => ({ symbol, fields: lot(step) });
  const run = async (writes: LotSizeWrite[], at = epoch) => {
    const outcomes = await writeLotSizes(t.redis, t.keys, at, writes);
    if (!Array.isArray(outcomes)) throw new Error(`refused: ${JSON.stringify(outcomes)}`);
    return outcomes;
  };

  it('writes every lot size as a hash without TTL; a wrong-typed key fails alone, named', async () => {
    await t.redis.set(t.keys.symbolLotSize('ETHUSDT'), 'not a hash');
    expect(
      await run([write('BTCUSDT', '0.001'), write('ETHUSDT', '0.01'), write('SOLUSDT', '1')]),
    ).toEqual([
      { kind: 'written' },
      { kind: 'wrong_type', key: t.keys.symbolLotSize('ETHUSDT'), found: 'string' },
      { kind: 'written' },
    ]);
    expect(await t.redis.hgetall(t.keys.symbolLotSize('BTCUSDT'))).toEqual({
      step_size: '0.001',
      min_qty: '0.001',
      max_qty: '',
      ts_ms: '1767225600000',
    });
    expect(await t.redis.pttl(t.keys.symbolLotSize('SOLUSDT'))).toBe(-1);
    expect(await t.redis.get(t.keys.symbolLotSize('ETHUSDT'))).toBe('not a hash');
  });

  it('writes more keys than one call takes, in batches, every outcome in order', async () => {
    const n = LOT_SIZE_WRITE_BATCH + 5;
    const writes = Array.from({ length: n }, (_, i) => write(`S${i}USDT`, '0.1'));
    const outcomes = await run(writes);
    expect(outcomes).toHaveLength(n);
    expect(outcomes.every((o) => o.kind === 'written')).toBe(true);
    expect(await t.redis.hget(t.keys.symbolLotSize(`S${n - 1}USDT`), 'step_size')).toBe('0.1');
  });

  it('fenced: a batch writes nothing below the fence, without a fence, with a garbage or wrong-typed one', async () => {
    await run([write('BTCUSDT', '0.001')]);
    await t.redis.set(t.keys.symbolLotSize('XRPUSDT'), 'x');
    const writes = [write('BTCUSDT', '0.01'), write('SOLUSDT', '1'), write('XRPUSDT', '1')];
    await expectFencedEverywhere(t, 'brain-poller', (e) =>
      runScript(t.redis, brainWriteLotSizes, { keys: t.keys, epoch: e, writes }),
    );
    expect(await t.redis.hget(t.keys.symbolLotSize('BTCUSDT'), 'step_size')).toBe('0.01');
  });

  it('fenced through the batched call: `fenced`, no key written in any batch', async () => {
    const paused = epoch;
    await t.redis.del(t.keys.lease('brain-poller'));
    const current = (await testTerm(t.redis, t.keys, 'brain-poller', 'new')).acquiredEpoch;
    const writes = Array.from({ length: LOT_SIZE_WRITE_BATCH + 2 }, (_, i) =>
      write(`S${i}USDT`, '1'),
    );
    expect(await writeLotSizes(t.redis, t.keys, paused, writes)).toEqual({
      status: 'fenced',
      fence: current,
      epoch: paused,
    });
    expect(await t.redis.keys(`${t.prefix}:posguard:symbol:*`)).toEqual([]);
  });

  it('a fence key of the wrong type: the batched call throws REDIS_WRONGTYPE naming it, nothing written', async () => {
    await t.redis.del(t.keys.fence('brain-poller'));
    await t.redis.sadd(t.keys.fence('brain-poller'), String(epoch));
    await expect(run([write('BTCUSDT', '0.001')])).rejects.toMatchObject({
      code: 'REDIS_WRONGTYPE',
      message: expect.stringContaining(t.keys.fence('brain-poller')) as unknown,
    });
    expect(await t.redis.exists(t.keys.symbolLotSize('BTCUSDT'))).toBe(0);
  });

  it('rows that do not match the keys are an error reply (a caller bug), nothing written', async () => {
    const call = brainWriteLotSizes.encode({
      keys: t.keys,
      epoch,
      writes: [write('BTCUSDT', '1')],
    });
    const keys = [
      t.keys.symbolLotSize('BTCUSDT'),
      t.keys.symbolLotSize('ETHUSDT'),
      t.keys.fence('brain-poller'),
    ];
    const failure = await t.redis
      .eval(luaSource('brain_write_lot_sizes'), 3, ...keys, JSON.stringify(call.argv))
      .catch((error: unknown) => error);
    expect(String((failure as Error).message)).toMatch(/one row per lot-size key/);
    expect(await t.redis.exists(keys[0]!, keys[1]!)).toBe(0);
  });

  it('after SCRIPT FLUSH: a single call and the batched pipeline both still run (NOSCRIPT re-sent)', async () => {
    await run([write('BTCUSDT', '0.001')]);
    await t.redis.script('FLUSH');
    expect(
      await runScript(t.redis, brainWriteLotSizes, {
        keys: t.keys,
        epoch,
        writes: [write('SOLUSDT', '1')],
      }),
    ).toEqual([{ kind: 'written' }]);
    await t.redis.script('FLUSH');
    const outcomes = await run(
      Array.from({ length: LOT_SIZE_WRITE_BATCH + 1 }, (_, i) => write(`S${i}USDT`, '1')),
    );
    expect(outcomes).toHaveLength(LOT_SIZE_WRITE_BATCH + 1);
  });
});
