/** The compare-and-set of manual_ledger.lua, driven through its typed wrapper (no child process). */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseAmount } from '../../src/domain/amount.js';
import { PosguardError } from '../../src/errors.js';
import {
  readLedgerState,
  writeManualLedger,
  type LedgerTarget,
} from '../../src/operator/manual-ledger.js';
import { clearManualHold, setManualHold } from '../../src/operator/manual-hold.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';

let t: TestRedis;
beforeEach(() => {
  t = openTestRedis('cas');
});
afterEach(() => t.close());

const amount = (text: string) =>
  parseAmount(text) ??
  (() => {
    throw new Error(text);
  })();
const clock = { nowMs: () => 1_800_000_000_000 };

function change(target: LedgerTarget['amount'], beforeWrite: () => Promise<void>) {
  return {
    symbol: 'BTCUSDT',
    reason: 'test',
    operator: 'op',
    clock,
    ledgerTtlSec: 60,
    target: async (): Promise<LedgerTarget> => {
      await beforeWrite();
      return { amount: target, event: 'MANUAL_LEDGER_SET' as const, details: {} };
    },
  };
}

describe('manual ledger compare-and-set', () => {
  it('a write that lands between read and write is never overwritten blindly: re-read, retried once', async () => {
    await t.redis.hset(t.keys.ledger('BTCUSDT'), { ledger_amt: '1', version: '5' });
    let writes = 0;
    const result = await writeManualLedger(
      t.redis,
      t.keys,
      change(amount('2'), async () => {
        if (writes++ === 0)
          await t.redis.hset(t.keys.ledger('BTCUSDT'), { ledger_amt: '0.9', version: '6' }); // a fill
      }),
    );
    expect(result.attempts).toBe(2);
    expect(result.oldAmount).toBe('0.9');
    expect(result.newVersion).toBe('7');
    expect(await t.redis.hget(t.keys.ledger('BTCUSDT'), 'version')).toBe('7');
    expect(await t.redis.xlen(t.keys.reconcileEventsStream)).toBe(1);
  });

  it('two conflicts in a row: CONFLICT, nothing written by us, no event', async () => {
    await t.redis.hset(t.keys.ledger('BTCUSDT'), { ledger_amt: '1', version: '5' });
    let version = 5;
    const racing = change(amount('2'), async () => {
      version += 1;
      await t.redis.hset(t.keys.ledger('BTCUSDT'), { version: String(version) });
    });
    const error = await writeManualLedger(t.redis, t.keys, racing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PosguardError);
    expect((error as PosguardError).code).toBe('CONFLICT');
    expect(await t.redis.hget(t.keys.ledger('BTCUSDT'), 'ledger_amt')).toBe('1');
    expect(await t.redis.xlen(t.keys.reconcileEventsStream)).toBe(0);
  });

  it('a ledger key of the wrong type is refused, not overwritten', async () => {
    await t.redis.set(t.keys.ledger('BTCUSDT'), 'garbage');
    const error = await writeManualLedger(
      t.redis,
      t.keys,
      change(amount('1'), () => Promise.resolve()),
    ).catch((e: unknown) => e);
    expect((error as PosguardError).code).toBe('CONFLICT');
    expect(await t.redis.get(t.keys.ledger('BTCUSDT'))).toBe('garbage');
  });

  it('reads the ledger (ε of its lot size), its fields as stored and its TTL in one round trip', async () => {
    const fields = { ledger_amt: '0.0004', ledger_side: 'FLAT', version: '7' };
    await t.redis.hset(t.keys.ledger('BTCUSDT'), fields);
    await t.redis.pexpire(t.keys.ledger('BTCUSDT'), 600_000);
    await t.redis.hset(t.keys.symbolLotSize('BTCUSDT'), { step_size: '0.001', min_qty: '0.001' });
    const pipelines = vi.spyOn(t.redis, 'pipeline');
    const state = await readLedgerState(t.redis, t.keys, 'BTCUSDT');
    expect(pipelines).toHaveBeenCalledTimes(1);
    expect(state.read.kind === 'ok' && state.read.ledger.amount.isZero()).toBe(true);
    expect(state).toMatchObject({ raw: fields, rawVersion: '7', previousVersion: 7 });
    expect(state.ttlMs).toBeGreaterThan(590_000);
    const none = await readLedgerState(t.redis, t.keys, 'ETHUSDT');
    expect(none).toMatchObject({ raw: {}, rawVersion: '', previousVersion: 0, ttlMs: null });
    expect(none.read.kind).toBe('missing');
  });

  it('manual scripts work after SCRIPT FLUSH (NOSCRIPT path)', async () => {
    await t.redis.script('FLUSH');
    const set = await setManualHold(
      t.redis,
      t.keys,
      { symbol: 'BTCUSDT', nowMs: clock.nowMs(), reason: 'r', operator: 'op' },
      5000,
    );
    expect(set).toEqual({ status: 'OK', previousOwner: 'none' });
    await t.redis.script('FLUSH');
    expect(
      await clearManualHold(t.redis, t.keys, {
        symbol: 'BTCUSDT',
        nowMs: clock.nowMs(),
        reason: 'r',
        operator: 'op',
      }),
    ).toEqual({
      status: 'OK',
      previousOwner: 'operator',
    });
    await t.redis.script('FLUSH');
    const written = await writeManualLedger(
      t.redis,
      t.keys,
      change(amount('-3'), () => Promise.resolve()),
    );
    expect(written.newVersion).toBe('1');
  });
});
