/**
 * brain_apply_fill against a real Redis: every status (applied, recorded, duplicate,
 * conflict, wrong_type; order_accounted: test/brain/apply-fill-order-marker.test.ts) and the
 * NOSCRIPT path (SCRIPT FLUSH) in a single call and inside a pipeline. Encode and decode
 * without Redis: test/unit/scripts/brain-apply-fill.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { type ApplyFillArgs, brainApplyFill } from '../../src/redis/scripts/brain-apply-fill.js';
import { queueScript, runScript, scriptPipeline } from '../../src/redis/scripts/script.js';
import { ensureGroup, readGroup } from '../../src/brain/stream-group.js';

const FILL_SETTINGS = { group: 'g', ledgerTtlMs: 86_400_000, markerTtlMs: 3_600_000 };

describe('brain_apply_fill (real Redis)', () => {
  let t: TestRedis;
  beforeAll(() => {
    t = openTestRedis('sc');
  });
  afterAll(() => t.close());

  async function deliver(stream: string, fields: string[]): Promise<string> {
    await ensureGroup(t.redis, stream, 'g', '0');
    const id = (await t.redis.xadd(stream, '*', ...fields)) as string;
    await readGroup(t.redis, { stream, group: 'g', consumer: 'c', count: 100, id: '>' });
    return id;
  }

  async function pending(stream: string): Promise<number> {
    return Number(((await t.redis.xpending(stream, 'g')) as [number])[0]);
  }

  const applyFill = (args: Omit<ApplyFillArgs, 'keys' | keyof typeof FILL_SETTINGS>) =>
    runScript(t.redis, brainApplyFill, { keys: t.keys, ...FILL_SETTINGS, ...args });

  it('fill: applied, duplicate, conflict (nothing written, not acked); last_result_id only moves forward', async () => {
    const stream = t.keys.applyResultStream;
    const ledger = t.keys.ledger('BTCUSDT');
    await t.redis.hset(ledger, { ledger_amt: '1', version: '3', last_result_id: '2000-5' });
    const id = await deliver(stream, ['symbol', 'BTCUSDT']);
    const call = async (entryId: string, expectedVersion: string, amount: string) =>
      (
        await applyFill({
          symbol: 'BTCUSDT',
          entryId,
          expectedVersion,
          fields: { ledger_amt: amount, version: String(Number(expectedVersion) + 1) },
        })
      ).status;

    expect(await call(id, '2', '0.5')).toBe('conflict');
    expect(await t.redis.hget(ledger, 'ledger_amt')).toBe('1');
    expect(await pending(stream)).toBe(1);

    await t.redis.script('FLUSH');
    expect(await call(id, '3', '0.9')).toBe('applied');
    expect(await t.redis.hgetall(ledger)).toMatchObject({
      ledger_amt: '0.9',
      version: '4',
      last_result_id: id,
    });
    expect(await pending(stream)).toBe(0);
    expect(await t.redis.pttl(ledger)).toBeGreaterThan(86_000_000);

    expect(await call(id, '4', '0.1')).toBe('duplicate');
    expect(await t.redis.hget(ledger, 'ledger_amt')).toBe('0.9');

    // An older entry (claimed late from a dead consumer) is applied, but the mark stays.
    expect(await call('1000-0', '4', '0.8')).toBe('applied');
    expect(await t.redis.hgetall(ledger)).toMatchObject({ ledger_amt: '0.8', last_result_id: id });
    // Same ms, larger sequence number → newer.
    const [ms] = id.split('-');
    expect(await call(`${ms}-99`, '5', '0.7')).toBe('applied');
    expect(await t.redis.hget(ledger, 'last_result_id')).toBe(`${ms}-99`);
  });

  it('fill: expected version "" matches a ledger without a version field', async () => {
    const stream = t.keys.applyResultStream;
    const id = await deliver(stream, ['symbol', 'ETHUSDT']);
    await t.redis.hset(t.keys.ledger('ETHUSDT'), {
      last_known_amt: '-1',
      last_known_side: 'SHORT',
    });
    const reply = await applyFill({
      symbol: 'ETHUSDT',
      entryId: id,
      expectedVersion: '',
      fields: { ledger_amt: '-0.5', version: '1' },
    });
    expect(reply).toEqual({ status: 'applied' });
    expect(await t.redis.hget(t.keys.ledger('ETHUSDT'), 'ledger_amt')).toBe('-0.5');
  });

  it('order: records the order fields only — no marker, last_result_id untouched, acked; duplicate once repaired from', async () => {
    const stream = t.keys.applyResultStream;
    const ledger = t.keys.ledger('SOLUSDT');
    await t.redis.hset(ledger, { ledger_amt: '2', version: '7', last_result_id: '1000-0' });
    const id = await deliver(stream, ['symbol', 'SOLUSDT']);
    const order = async (expectedVersion: string) =>
      (
        await applyFill({
          symbol: 'SOLUSDT',
          entryId: id,
          expectedVersion,
          fields: { last_order_time_ms: '5', version: String(Number(expectedVersion) + 1) },
          mode: 'order',
        })
      ).status;
    expect(await order('6')).toBe('conflict');
    expect(await pending(stream)).toBe(1);
    expect(await order('7')).toBe('recorded');
    expect(await t.redis.hgetall(ledger)).toMatchObject({
      ledger_amt: '2',
      version: '8',
      last_order_time_ms: '5',
      last_result_id: '1000-0',
    });
    expect(await t.redis.exists(t.keys.resultApplied(id))).toBe(0);
    expect(await pending(stream)).toBe(0);
    // The engine repaired from this order (it set the marker): a redelivery writes nothing.
    await t.redis.set(t.keys.resultApplied(id), '1');
    expect(await order('8')).toBe('duplicate');
    expect(await t.redis.hget(ledger, 'version')).toBe('8');
  });

  it('checks every key type before the first write: wrong-typed ledger or marker → named, nothing written, not acked', async () => {
    const stream = t.keys.applyResultStream;
    const id = await deliver(stream, ['symbol', 'BNBUSDT']);
    const run = () =>
      applyFill({
        symbol: 'BNBUSDT',
        entryId: id,
        expectedVersion: '',
        fields: { ledger_amt: '1' },
      });
    await t.redis.set(t.keys.ledger('BNBUSDT'), 'not a hash');
    expect(await run()).toEqual({
      status: 'wrong_type',
      key: t.keys.ledger('BNBUSDT'),
      found: 'string',
    });
    await t.redis.del(t.keys.ledger('BNBUSDT'));
    await t.redis.rpush(t.keys.resultApplied(id), 'x');
    expect(await run()).toEqual({
      status: 'wrong_type',
      key: t.keys.resultApplied(id),
      found: 'list',
    });
    expect(await t.redis.exists(t.keys.ledger('BNBUSDT'))).toBe(0);
    expect(await pending(stream)).toBe(1);
  });
  it('after SCRIPT FLUSH: a single call and a pipelined call both still run (NOSCRIPT re-sent)', async () => {
    const stream = t.keys.applyResultStream;
    const ledger = t.keys.ledger('XRPUSDT');
    await t.redis.hset(ledger, { ledger_amt: '1', version: '1' });
    const pendingBefore = await pending(stream);
    const first = await deliver(stream, ['symbol', 'XRPUSDT']);
    const second = await deliver(stream, ['symbol', 'XRPUSDT']);
    const fill = (entryId: string, expectedVersion: string, amount: string) => ({
      keys: t.keys,
      ...FILL_SETTINGS,
      symbol: 'XRPUSDT',
      entryId,
      expectedVersion,
      fields: { ledger_amt: amount, version: String(Number(expectedVersion) + 1) },
    });
    await t.redis.script('FLUSH');
    expect(await runScript(t.redis, brainApplyFill, fill(first, '1', '0.9'))).toEqual({
      status: 'applied',
    });
    await t.redis.script('FLUSH');
    const pipeline = scriptPipeline(t.redis, [brainApplyFill]);
    const replies: unknown[] = [];
    for (const args of [fill(second, '2', '0.8'), fill(first, '3', '0.7')])
      queueScript(pipeline, brainApplyFill, args, (error, reply) => replies.push(error ?? reply));
    await pipeline.exec();
    expect(replies).toEqual([{ status: 'applied' }, { status: 'duplicate' }]);
    expect(await t.redis.hget(ledger, 'ledger_amt')).toBe('0.8');
    expect(await pending(stream)).toBe(pendingBefore);
  });
});
