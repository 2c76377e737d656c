/**
 * manual_ledger against a real Redis: every status (ok, conflict, wrong_type) and the
 * NOSCRIPT path (SCRIPT FLUSH) in a single call and inside a pipeline. The operator's
 * re-read and retry: test/cli/manual-ledger.test.ts; every key position's type check:
 * test/reconcile/write-script-types.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ManualLedgerArgs, manualLedger } from '../../src/redis/scripts/manual-ledger.js';
import { queueScript, runScript, scriptPipeline } from '../../src/redis/scripts/script.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';

describe('manual_ledger (real Redis)', () => {
  let t: TestRedis;
  beforeAll(() => {
    t = openTestRedis('mls');
  });
  afterAll(() => t.close());

  const write = (
    symbol: string,
    expectedVersion: string,
    amount: string,
    version: string,
  ): ManualLedgerArgs => ({
    keys: t.keys,
    symbol,
    expectedVersion,
    ledger: { ledger_amt: amount, version, source: 'p34_manual' },
    ledgerTtlMs: 86_400_000,
    eventsMaxlen: 10_000,
    event: ['event', 'MANUAL_LEDGER_SET', 'symbol', symbol, 'new_ledger_amt', amount],
  });
  const events = async (symbol: string) =>
    (await t.redis.xrange(t.keys.reconcileEventsStream, '-', '+'))
      .map(([, fields]) => fields)
      .filter((fields) => fields[3] === symbol);

  it('ok: no ledger yet ("" expected), fields written with the TTL, the event in field order', async () => {
    expect(await runScript(t.redis, manualLedger, write('AUSDT', '', '0.062', '1'))).toEqual({
      status: 'ok',
      version: '1',
    });
    expect(await t.redis.hgetall(t.keys.ledger('AUSDT'))).toEqual({
      ledger_amt: '0.062',
      version: '1',
      source: 'p34_manual',
    });
    expect(await t.redis.pttl(t.keys.ledger('AUSDT'))).toBeGreaterThan(86_000_000);
    expect(await events('AUSDT')).toEqual([
      ['event', 'MANUAL_LEDGER_SET', 'symbol', 'AUSDT', 'new_ledger_amt', '0.062'],
    ]);
  });

  it('ok over an existing ledger: its other fields (orders) are kept', async () => {
    await t.redis.hset(t.keys.ledger('BUSDT'), {
      ledger_amt: '1',
      version: '5',
      last_order_id: '9',
    });
    expect(await runScript(t.redis, manualLedger, write('BUSDT', '5', '2', '6'))).toEqual({
      status: 'ok',
      version: '6',
    });
    expect(await t.redis.hgetall(t.keys.ledger('BUSDT'))).toMatchObject({
      ledger_amt: '2',
      version: '6',
      last_order_id: '9',
    });
  });

  it('conflict: the raw version changed since it was read; the stored one returned, nothing written, no event', async () => {
    await t.redis.hset(t.keys.ledger('CUSDT'), { ledger_amt: '1', version: ' 6' });
    expect(await runScript(t.redis, manualLedger, write('CUSDT', '6', '2', '7'))).toEqual({
      status: 'conflict',
      version: ' 6',
    });
    expect(await runScript(t.redis, manualLedger, write('CUSDT', '', '2', '1'))).toEqual({
      status: 'conflict',
      version: ' 6',
    });
    expect(await t.redis.hget(t.keys.ledger('CUSDT'), 'ledger_amt')).toBe('1');
    expect(await events('CUSDT')).toEqual([]);
  });

  it('a wrong-typed ledger: wrong_type naming it, nothing written', async () => {
    await t.redis.set(t.keys.ledger('DUSDT'), 'garbage');
    expect(await runScript(t.redis, manualLedger, write('DUSDT', '', '1', '1'))).toEqual({
      status: 'wrong_type',
      key: t.keys.ledger('DUSDT'),
      found: 'string',
    });
    expect(await t.redis.get(t.keys.ledger('DUSDT'))).toBe('garbage');
    expect(await events('DUSDT')).toEqual([]);
  });

  it('after SCRIPT FLUSH: a single call and a pipelined call both still run (NOSCRIPT re-sent)', async () => {
    await t.redis.script('FLUSH');
    expect(await runScript(t.redis, manualLedger, write('EUSDT', '', '1', '1'))).toEqual({
      status: 'ok',
      version: '1',
    });
    await t.redis.script('FLUSH');
    const pipeline = scriptPipeline(t.redis, [manualLedger]);
    const replies: unknown[] = [];
    for (const args of [write('EUSDT', '1', '2', '2'), write('EUSDT', '1', '3', '2')])
      queueScript(pipeline, manualLedger, args, (error, reply) => replies.push(error ?? reply));
    await pipeline.exec();
    expect(replies).toEqual([
      { status: 'ok', version: '2' },
      { status: 'conflict', version: '2' },
    ]);
  });
});
