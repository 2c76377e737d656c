/**
 * The one symbol-state reader against a real Redis: every part of a symbol decoded with the
 * shared codecs, hold owner from the marker plus PEXPIRETIME, wrong types contained, and
 * N symbols in one pipeline.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { formatAmount } from '../../src/domain/amount.js';
import { symbolStateProjection } from '../../src/redis/symbol-state.js';
import { readSymbolStates, readSymbolStatesWith } from '../../src/redis/symbol-state-reader.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';

let t: TestRedis;
beforeEach(() => {
  t = openTestRedis('ssr');
});
afterEach(() => t.close());

describe('readSymbolStates (real Redis)', () => {
  it('decodes snapshot, ledger, lot size, state and holds with their owners', async () => {
    const { redis, keys } = t;
    const now = Date.now();
    await redis.hset(keys.snapshot('BTCUSDT'), { position_amt: '0.038', ts_ms: String(now) });
    await redis.hset(keys.ledger('BTCUSDT'), { ledger_amt: '-0.5', ledger_side: 'SHORT' });
    await redis.hset(keys.symbolLotSize('BTCUSDT'), { step_size: '0.001', min_qty: '0.001' });
    await redis.hset(keys.reconcileState('BTCUSDT'), { status: 'DRIFT', reason: 'x' });
    await redis.set(keys.hold('BTCUSDT'), '1', 'PX', 300_000);
    // The engine's marker records its hold's exact expiry (SPEC §7).
    const at = String(await redis.call('PEXPIRETIME', keys.hold('BTCUSDT')));
    await redis.set(keys.holdOwner('BTCUSDT'), `p34:${at}`, 'PX', 300_000);
    await redis.setex(keys.hold('ETHUSDT'), 3600, '1'); // an operator's redis-cli SETEX
    await redis.set(keys.snapshot('SOLUSDT'), 'not a hash'); // LESSONS #18

    const [btc, eth, sol] = await readSymbolStates(redis, keys, ['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    expect(btc?.snapshot.kind === 'ok' && formatAmount(btc.snapshot.snapshot.amount)).toBe('0.038');
    expect(btc?.ledger.kind === 'ok' && formatAmount(btc.ledger.ledger.amount)).toBe('-0.5');
    expect(btc?.state.kind === 'ok' && btc.state.state.status).toBe('DRIFT');
    expect(btc?.hold.owner).toBe('p34');
    expect(btc?.hold.ttlMs).toBeGreaterThan(290_000);
    expect(btc?.hold.expireTimeMs).toBeGreaterThan(now + 290_000);

    expect(eth?.snapshot.kind).toBe('missing');
    expect(eth?.ledger.kind).toBe('missing');
    expect(eth?.hold).toMatchObject({ present: true, owner: 'operator', marker: null });
    expect(eth?.hold.ttlMs).toBeGreaterThan(3_590_000);

    expect(sol?.snapshot).toEqual({ kind: 'invalid', problem: 'snapshot key is not a hash' });
    expect(sol?.hold.present).toBe(false);
  });

  it('reads 550 symbols in one pipeline (one round trip)', async () => {
    const symbols = Array.from({ length: 550 }, (_, i) => `S${String(i).padStart(4, '0')}USDT`);
    const pipelines = vi.spyOn(t.redis, 'pipeline');
    const states = await readSymbolStates(t.redis, t.keys, symbols);
    expect(pipelines).toHaveBeenCalledTimes(1);
    expect(states.map((s) => s.symbol)).toEqual(symbols);
  });

  it('a projection plus extra reads (a heartbeat, a key naming no symbol) in the same one round trip', async () => {
    const { redis, keys } = t;
    await redis.hset(keys.ledger('BTCUSDT'), { ledger_amt: '0.0004', ledger_side: 'FLAT' });
    await redis.pexpire(keys.ledger('BTCUSDT'), 600_000);
    await redis.hset(keys.symbolLotSize('BTCUSDT'), { step_size: '0.001', min_qty: '0.001' });
    await redis.set(keys.hold('BTCUSDT'), 'x'); // a hold without expiry
    await redis.set(keys.reconcileHeartbeat, '{"ts_ms":1}');
    const projection = symbolStateProjection(['ledger', 'ledgerFields', 'ledgerTtlMs', 'holdTtl']);
    const pipelines = vi.spyOn(t.redis, 'pipeline');
    const read = await readSymbolStatesWith(redis, keys, ['BTCUSDT', 'ETHUSDT'], projection, [
      ['get', keys.reconcileHeartbeat],
      ['pttl', `${keys.prefix}:reconcile:hold:btc-usdt`],
    ]);
    expect(pipelines).toHaveBeenCalledTimes(1);
    const [btc, eth] = read.states;
    // FLAT 0.0004 is within ε = half the lot step: flat, as every reader decodes it.
    expect(btc?.ledger.kind === 'ok' && btc.ledger.ledger.amount.isZero()).toBe(true);
    expect(btc?.ledgerFields).toEqual({ ledger_amt: '0.0004', ledger_side: 'FLAT' });
    expect(btc?.ledgerTtlMs).toBeGreaterThan(590_000);
    expect(btc?.holdTtl).toEqual({ present: true, ttlMs: null });
    expect(eth).toMatchObject({ ledgerFields: {}, ledgerTtlMs: null, holdTtl: { present: false } });
    expect(read.extra).toEqual([
      [null, '{"ts_ms":1}'],
      [null, -2],
    ]);
  });

  it('rejects when Redis cannot answer', async () => {
    t.redis.disconnect();
    await expect(readSymbolStates(t.redis, t.keys, ['BTCUSDT'])).rejects.toThrow();
  });
});
