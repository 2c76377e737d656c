/**
 * LESSONS #17 end to end with the real reconcile engine: a trade posguard did not see
 * (someone closed part of the position by hand) puts the symbol on hold; `hold clear`
 * alone cannot get out of it (the engine re-arms); `posguard ledger adopt` does, and the
 * engine then clears its own hold.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { ledgerFields, snapshotFields, writeSymbol } from '../reconcile/fixtures.js';
import { ManualClock, makeEngine, readEvents } from '../reconcile/harness.js';
import { assertBuilt, runCli } from './run-cli.js';

const SYM = 'BTCUSDT';
let t: TestRedis;
let clock: ManualClock;

beforeAll(() => assertBuilt());
beforeEach(() => {
  t = openTestRedis('ext');
  clock = new ManualClock(Date.now()); // the CLI judges snapshot freshness by the real clock
});
afterEach(() => t.close());

describe('the way out of an external-trade hold (LESSONS #17)', () => {
  it('engine holds → hold clear is re-armed → ledger adopt → engine OK and its hold gone', async () => {
    const env = { REDIS_URL: t.url, KEY_PREFIX: t.prefix, P34_ALLOWLIST: SYM };
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url });
    const cycle = async (): Promise<Record<string, string>> => {
      clock.advance(1000);
      // The brain keeps polling: the exchange now shows 0.03 (0.02 was closed by hand).
      await writeSymbol(t.redis, t.keys, SYM, { snapshot: snapshotFields('0.03', clock.ms - 300) });
      await h.engine.runOnce();
      return t.redis.hgetall(t.keys.reconcileState(SYM));
    };
    await writeSymbol(t.redis, t.keys, SYM, { ledger: ledgerFields('0.05', clock.ms - 120_000) });

    expect(await cycle()).toMatchObject({ status: 'HOLD', reason: 'qty_mismatch_no_evidence' });
    expect(await t.redis.get(t.keys.hold(SYM))).toBe('1');

    // Clearing the hold does not fix the cause: the engine holds again on its next cycle.
    const cleared = await runCli(['hold', 'clear', SYM, '--reason', 'try', '--yes'], { env });
    expect(cleared.code).toBe(0);
    expect(await t.redis.exists(t.keys.hold(SYM))).toBe(0);
    expect(await cycle()).toMatchObject({ status: 'HOLD' });
    expect(await t.redis.exists(t.keys.hold(SYM))).toBe(1);

    const adopted = await runCli(
      ['ledger', 'adopt', SYM, '--reason', 'closed 0.02 by hand', '--yes', '--operator', 'dana'],
      { env },
    );
    expect(adopted.stderr).toBe('');
    expect(adopted.code).toBe(0);

    const state = await cycle();
    expect(state.status).toBe('OK');
    expect(await t.redis.exists(t.keys.hold(SYM))).toBe(0);
    expect(await cycle()).toMatchObject({ status: 'OK' });

    const events = (await readEvents(t.redis, t.keys)).map((e) => e.fields.event);
    expect(events).toContain('MANUAL_LEDGER_ADOPT');
    expect(events.indexOf('HOLD_CLEARED')).toBeGreaterThan(events.indexOf('MANUAL_LEDGER_ADOPT'));
    const status = await runCli(['status', SYM, '--json'], { env });
    expect(JSON.parse(status.stdout)).toMatchObject([
      { exchange_amt: '0.03', ledger_amt: '0.03', diff_amt: '0', status: 'OK', hold: false },
    ]);
  });
});
