/**
 * brain_apply_fill.lua and the order-accounted marker (SPEC §4, §7 row 8): a confirmed fill
 * of an order the reconcile engine already repaired the ledger from (while its fill was
 * unconfirmed) is never applied. Argument encoding without Redis; every reply against real
 * Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { buildKeys } from '../../src/redis/keys.js';
import { brainApplyFill } from '../../src/redis/scripts/brain-apply-fill.js';
import { decodeReply, runScript } from '../../src/redis/scripts/script.js';
import { ensureGroup, readGroup } from '../../src/brain/stream-group.js';

const SETTINGS = { group: 'g', ledgerTtlMs: 86_400_000, markerTtlMs: 3_600_000 };

describe('order marker in the arguments (no Redis)', () => {
  const keys = buildKeys('q');
  const base = {
    keys,
    symbol: 'BTCUSDT',
    entryId: '5-1',
    expectedVersion: '',
    fields: {},
    ...SETTINGS,
  };

  it('a fill with a key-safe order id passes its order-accounted marker as KEYS[4]', () => {
    const call = brainApplyFill.encode({ ...base, orderId: '11986721004' });
    expect(call.keys).toEqual([
      'q:position:ledger:BTCUSDT',
      'q:posguard:result:applied:5-1',
      'q:stream:apply.result',
      'q:posguard:order:accounted:BTCUSDT:11986721004',
    ]);
    const decode = (reply: unknown) => decodeReply(brainApplyFill, JSON.stringify(reply));
    expect(decode({ status: 'order_accounted' })).toEqual({ status: 'order_accounted' });
    expect(decode({ status: 'wrong_type', key: call.keys[3], found: 'hash' })).toEqual({
      status: 'wrong_type',
      key: 'q:posguard:order:accounted:BTCUSDT:11986721004',
      found: 'hash',
    });
  });

  it('the key builder refuses an order id that could inject into a key name', () => {
    expect(keys.orderAccounted('ETHUSDT', '8241170533')).toBe(
      'q:posguard:order:accounted:ETHUSDT:8241170533',
    );
    for (const bad of ['', 'a*', 'a b', '../x', 'x\n', '9'.repeat(65)])
      expect(() => keys.orderAccounted('ETHUSDT', bad), bad).toThrow(/invalid order id/);
    expect(() => keys.orderAccounted('ETH*', '1')).toThrow(/invalid symbol/);
  });

  it('no marker for an unconfirmed order, a fill without an order id, or an id unfit for a key', () => {
    const order = brainApplyFill.encode({ ...base, orderId: '7', mode: 'order' });
    expect(order.keys).toHaveLength(3);
    for (const orderId of [null, undefined, '', 'a b', 'x*', 'é', '9'.repeat(65)])
      expect(brainApplyFill.encode({ ...base, orderId }).keys, String(orderId)).toHaveLength(3);
  });
});

describe('order marker against Redis', () => {
  let t: TestRedis;
  beforeAll(() => {
    t = openTestRedis('om');
  });
  afterAll(() => t.close());

  async function deliver(fields: string[]): Promise<string> {
    const stream = t.keys.applyResultStream;
    await ensureGroup(t.redis, stream, 'g', '0');
    const id = (await t.redis.xadd(stream, '*', ...fields)) as string;
    await readGroup(t.redis, { stream, group: 'g', consumer: 'c', count: 100, id: '>' });
    return id;
  }

  async function pending(): Promise<number> {
    return Number(((await t.redis.xpending(t.keys.applyResultStream, 'g')) as [number])[0]);
  }

  const fill = async (symbol: string, entryId: string, orderId: string) => {
    const reply = await runScript(t.redis, brainApplyFill, {
      keys: t.keys,
      ...SETTINGS,
      symbol,
      entryId,
      expectedVersion: '3',
      fields: { ledger_amt: '0.996', version: '4' },
      orderId,
    });
    return reply.status === 'wrong_type' ? reply : reply.status;
  };

  it('order_accounted: the ledger is not written; the entry is marked done and acked; a redelivery is a duplicate', async () => {
    const ledger = t.keys.ledger('BTCUSDT');
    const before = { ledger_amt: '0.998', version: '3', last_result_id: '1000-0' };
    await t.redis.hset(ledger, before);
    await t.redis.set(t.keys.orderAccounted('BTCUSDT', '11986721004'), '900-0');
    const id = await deliver(['symbol', 'BTCUSDT']);
    expect(await fill('BTCUSDT', id, '11986721004')).toBe('order_accounted');
    expect(await t.redis.hgetall(ledger)).toEqual(before);
    expect(await t.redis.pttl(ledger)).toBe(-1); // not even the TTL renewed
    expect(await t.redis.exists(t.keys.resultApplied(id))).toBe(1);
    expect(await pending()).toBe(0);
    expect(await fill('BTCUSDT', id, '11986721004')).toBe('duplicate');
    expect(await t.redis.hgetall(ledger)).toEqual(before);
  });

  it('the marker is per symbol and per order: another order, or the same id on another symbol, is applied', async () => {
    await t.redis.set(t.keys.orderAccounted('ETHUSDT', '42'), '900-0');
    for (const [symbol, orderId] of [
      ['ETHUSDT', '43'],
      ['SOLUSDT', '42'],
    ] as const) {
      await t.redis.hset(t.keys.ledger(symbol), { ledger_amt: '0.998', version: '3' });
      const id = await deliver(['symbol', symbol]);
      expect(await fill(symbol, id, orderId), `${symbol} ${orderId}`).toBe('applied');
      expect(await t.redis.hget(t.keys.ledger(symbol), 'ledger_amt')).toBe('0.996');
    }
  });

  it('a marker key of the wrong type: named, nothing written, not acked', async () => {
    const ledger = t.keys.ledger('BNBUSDT');
    await t.redis.hset(ledger, { ledger_amt: '0.998', version: '3' });
    const marker = t.keys.orderAccounted('BNBUSDT', '77');
    await t.redis.hset(marker, { x: '1' });
    const id = await deliver(['symbol', 'BNBUSDT']);
    expect(await fill('BNBUSDT', id, '77')).toEqual({
      status: 'wrong_type',
      key: marker,
      found: 'hash',
    });
    expect(await t.redis.hget(ledger, 'ledger_amt')).toBe('0.998');
    expect(await t.redis.exists(t.keys.resultApplied(id))).toBe(0);
    expect(await pending()).toBe(1);
  });
});
