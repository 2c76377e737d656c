/**
 * manual_hold against a real Redis: every status (set over no hold / an engine hold / a
 * shared hold, clear, no_hold, wrong_type), and the NOSCRIPT path (SCRIPT FLUSH) in a single
 * call and inside a pipeline. Every key position's type check: test/reconcile/write-script-types.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ManualHoldArgs, manualHold } from '../../src/redis/scripts/manual-hold.js';
import { queueScript, runScript, scriptPipeline } from '../../src/redis/scripts/script.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';

describe('manual_hold (real Redis)', () => {
  let t: TestRedis;
  beforeAll(() => {
    t = openTestRedis('mhs');
  });
  afterAll(() => t.close());

  const set = (symbol: string, ttlMs = 60_000): ManualHoldArgs => ({
    keys: t.keys,
    symbol,
    change: { mode: 'set', ttlMs },
    eventsMaxlen: 10_000,
    event: ['event', 'MANUAL_HOLD_SET', 'symbol', symbol, 'operator', 'op'],
  });
  const clear = (symbol: string): ManualHoldArgs => ({
    keys: t.keys,
    symbol,
    change: { mode: 'clear' },
    eventsMaxlen: 10_000,
    event: ['event', 'MANUAL_HOLD_CLEARED', 'symbol', symbol, 'operator', 'op'],
  });
  const events = async (symbol: string) =>
    (await t.redis.xrange(t.keys.reconcileEventsStream, '-', '+'))
      .map(([, fields]) => fields)
      .filter((fields) => fields[3] === symbol);

  it('set with no hold: ok/none, the hold with its TTL, no owner marker, the event in field order', async () => {
    expect(await runScript(t.redis, manualHold, set('AUSDT'))).toEqual({
      status: 'ok',
      previousOwner: 'none',
    });
    expect(await t.redis.get(t.keys.hold('AUSDT'))).toBe('1');
    expect(await t.redis.pttl(t.keys.hold('AUSDT'))).toBeGreaterThan(55_000);
    expect(await t.redis.exists(t.keys.holdOwner('AUSDT'))).toBe(0);
    expect(await events('AUSDT')).toEqual([
      ['event', 'MANUAL_HOLD_SET', 'symbol', 'AUSDT', 'operator', 'op', 'previous_owner', 'none'],
    ]);
  });

  it("set over the engine's hold (marker = PEXPIRETIME): ok/p34, the marker deleted — the hold is the operator's", async () => {
    await t.redis.set(t.keys.hold('BUSDT'), '1', 'PX', 300_000);
    const at = await t.redis.pexpiretime(t.keys.hold('BUSDT'));
    await t.redis.set(t.keys.holdOwner('BUSDT'), `p34:${at}`, 'PX', 300_000);
    expect(await runScript(t.redis, manualHold, set('BUSDT', 3_600_000))).toEqual({
      status: 'ok',
      previousOwner: 'p34',
    });
    expect(await t.redis.exists(t.keys.holdOwner('BUSDT'))).toBe(0);
    expect(await t.redis.pttl(t.keys.hold('BUSDT'))).toBeGreaterThan(3_500_000);
  });

  it('clear: ok with the previous owner (shared, operator), hold and marker deleted; no hold: no_hold, no event', async () => {
    await t.redis.set(t.keys.hold('CUSDT'), '1', 'PX', 300_000);
    await t.redis.set(t.keys.holdOwner('CUSDT'), 'shared', 'PX', 300_000);
    expect(await runScript(t.redis, manualHold, clear('CUSDT'))).toEqual({
      status: 'ok',
      previousOwner: 'shared',
    });
    expect(await t.redis.exists(t.keys.hold('CUSDT'), t.keys.holdOwner('CUSDT'))).toBe(0);
    await t.redis.set(t.keys.hold('CUSDT'), '1', 'PX', 300_000);
    expect(await runScript(t.redis, manualHold, clear('CUSDT'))).toEqual({
      status: 'ok',
      previousOwner: 'operator',
    });
    expect(await events('CUSDT')).toHaveLength(2);
    expect(await runScript(t.redis, manualHold, clear('CUSDT'))).toEqual({ status: 'no_hold' });
    expect(await events('CUSDT')).toHaveLength(2);
  });

  it('a wrong-typed key: wrong_type naming it, nothing written', async () => {
    await t.redis.rpush(t.keys.holdOwner('DUSDT'), 'x');
    expect(await runScript(t.redis, manualHold, set('DUSDT'))).toEqual({
      status: 'wrong_type',
      key: t.keys.holdOwner('DUSDT'),
      found: 'list',
    });
    expect(await t.redis.exists(t.keys.hold('DUSDT'))).toBe(0);
    expect(await events('DUSDT')).toEqual([]);
  });

  it('a TTL below 1 ms or an unknown mode is an error reply (a caller bug), nothing written', async () => {
    const error = await runScript(t.redis, manualHold, set('FUSDT', 0.2)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'REDIS_REPLY', kind: null });
    expect((error as Error).message).toMatch(/ttl_ms must be a TTL in ms >= 1/);
    const badMode = {
      ...manualHold,
      encode: (a: ManualHoldArgs) => {
        const call = manualHold.encode(a);
        return { ...call, argv: { ...call.argv, mode: 'toggle' } };
      },
    };
    await expect(runScript(t.redis, badMode, clear('FUSDT'))).rejects.toThrow(
      /mode must be set or clear/,
    );
    await t.redis.set(t.keys.hold('FUSDT'), '1', 'PX', 60_000);
    await expect(runScript(t.redis, badMode, clear('FUSDT'))).rejects.toThrow(
      /mode must be set or clear/,
    );
    expect(await t.redis.pttl(t.keys.hold('FUSDT'))).toBeGreaterThan(50_000);
    expect(await events('FUSDT')).toEqual([]);
  });

  it('after SCRIPT FLUSH: a single call and a pipelined call both still run (NOSCRIPT re-sent)', async () => {
    await t.redis.script('FLUSH');
    expect(await runScript(t.redis, manualHold, set('EUSDT'))).toEqual({
      status: 'ok',
      previousOwner: 'none',
    });
    await t.redis.script('FLUSH');
    const pipeline = scriptPipeline(t.redis, [manualHold]);
    const replies: unknown[] = [];
    for (const args of [clear('EUSDT'), clear('EUSDT')])
      queueScript(pipeline, manualHold, args, (error, reply) => replies.push(error ?? reply));
    await pipeline.exec();
    expect(replies).toEqual([{ status: 'ok', previousOwner: 'operator' }, { status: 'no_hold' }]);
  });
});
