import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { ledgerFields, snapshotFields, writeSymbol } from '../reconcile/fixtures.js';
import { ManualClock, makeEngine } from '../reconcile/harness.js';
import { assertBuilt, runCli } from './run-cli.js';

let t: TestRedis;
const env = (): Record<string, string> => ({
  REDIS_URL: t.url,
  KEY_PREFIX: t.prefix,
  P34_HOLD_TTL_SEC: '240',
});

async function events(): Promise<Array<Record<string, string>>> {
  const entries = await t.redis.xrange(t.keys.reconcileEventsStream, '-', '+');
  return entries.map(([, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) fields[flat[i] ?? ''] = flat[i + 1] ?? '';
    return fields;
  });
}

/** An engine hold as the engine writes it: the marker records the hold's exact expiry. */
async function engineHold(symbol: string, ttlSec: number): Promise<void> {
  await t.redis.set(t.keys.hold(symbol), '1', 'EX', ttlSec);
  const at = String(await t.redis.call('PEXPIRETIME', t.keys.hold(symbol)));
  await t.redis.set(t.keys.holdOwner(symbol), `p34:${at}`, 'EX', ttlSec);
}

beforeAll(() => assertBuilt());
beforeEach(() => {
  t = openTestRedis('hold');
});
afterEach(() => t.close());

describe('posguard hold set', () => {
  it('without --yes and without a terminal: exit 2, nothing written', async () => {
    const run = await runCli(['hold', 'set', 'BTCUSDT', '--reason', 'r'], { env: env() });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/pass --yes/);
    expect(await t.redis.exists(t.keys.hold('BTCUSDT'))).toBe(0);
    expect(await events()).toEqual([]);
  });

  it('without --reason: exit 2, nothing written', async () => {
    const run = await runCli(['hold', 'set', 'BTCUSDT', '--yes'], { env: env() });
    expect(run.code).toBe(2);
    expect(await t.redis.exists(t.keys.hold('BTCUSDT'))).toBe(0);
  });

  it('takes over an engine hold: hold "1" with the default TTL, engine marker deleted, audited', async () => {
    await engineHold('BTCUSDT', 30);
    const run = await runCli(
      ['hold', 'set', 'BTCUSDT', '--reason', 'manual trade', '--operator', 'alice', '--yes'],
      {
        env: env(),
      },
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/HOLD SET BTCUSDT by alice for 240 s \(previous hold: p34\)/);
    expect(await t.redis.get(t.keys.hold('BTCUSDT'))).toBe('1');
    const ttl = await t.redis.pttl(t.keys.hold('BTCUSDT'));
    expect(ttl).toBeGreaterThan(200_000);
    expect(ttl).toBeLessThanOrEqual(240_000);
    expect(await t.redis.exists(t.keys.holdOwner('BTCUSDT'))).toBe(0);
    const [event] = await events();
    expect(event).toMatchObject({
      event: 'MANUAL_HOLD_SET',
      symbol: 'BTCUSDT',
      reason: 'manual trade',
      operator: 'alice',
      ttl_sec: '240',
      previous_owner: 'p34',
    });
    expect(Number(event?.ts_ms)).toBeGreaterThan(Date.now() - 60_000);
    expect(event?.ts).toBe(String(Math.floor(Number(event?.ts_ms) / 1000)));
  });

  it('--ttl overrides the default; the operator defaults to $USER', async () => {
    const run = await runCli(
      ['hold', 'set', 'ETHUSDT', '--reason', 'x', '--ttl', '12.5', '--yes', '--json'],
      {
        env: { ...env(), USER: 'bob' },
      },
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      symbol: 'ETHUSDT',
      ttl_sec: 12.5,
      operator: 'bob',
      previous_owner: 'none',
    });
    expect(await t.redis.pttl(t.keys.hold('ETHUSDT'))).toBeLessThanOrEqual(12_500);
    expect((await events())[0]?.operator).toBe('bob');
  });

  it('holds against a real engine: never shortened, never deleted when the condition clears, no HOLD_CLEARED', async () => {
    const clock = new ManualClock(Date.now());
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url });
    const cycle = async (exchange: string): Promise<void> => {
      clock.advance(1000);
      await writeSymbol(t.redis, t.keys, 'BTCUSDT', {
        snapshot: snapshotFields(exchange, clock.ms - 300),
      });
      await h.engine.runOnce();
    };
    await writeSymbol(t.redis, t.keys, 'BTCUSDT', { ledger: ledgerFields('0.05', clock.ms) });
    await cycle('0.062'); // the engine holds
    const run = await runCli(
      ['hold', 'set', 'BTCUSDT', '--reason', 'maintenance', '--ttl', '3600', '--yes', '--json'],
      { env: env() },
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ previous_owner: 'p34' });
    for (let i = 0; i < 5; i += 1) await cycle('0.062');
    for (let i = 0; i < 3; i += 1) await cycle('0.05');
    expect(await t.redis.pttl(t.keys.hold('BTCUSDT'))).toBeGreaterThan(3_500_000);
    expect((await events()).map((e) => e.event)).toEqual(['HOLD_SET', 'MANUAL_HOLD_SET']);
  });

  it('an events stream of the wrong type: refused naming that key, nothing written', async () => {
    await t.redis.set(t.keys.reconcileEventsStream, 'not a stream');
    const run = await runCli(['hold', 'set', 'BTCUSDT', '--reason', 'r', '--yes'], { env: env() });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${t.keys.reconcileEventsStream} holds a string`);
    expect(await t.redis.exists(t.keys.hold('BTCUSDT'))).toBe(0);
  });

  it('no operator at all is a usage error', async () => {
    const run = await runCli(['hold', 'set', 'ETHUSDT', '--reason', 'x', '--yes'], {
      env: { ...env(), USER: undefined },
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--operator/);
  });
});

describe('posguard hold clear', () => {
  it('deletes hold and marker, writes MANUAL_HOLD_CLEARED and warns about the engine', async () => {
    await engineHold('BTCUSDT', 30);
    const refused = await runCli(['hold', 'clear', 'BTCUSDT', '--reason', 'fixed'], { env: env() });
    expect(refused.code).toBe(2);
    expect(await t.redis.exists(t.keys.hold('BTCUSDT'))).toBe(1);

    const run = await runCli(['hold', 'clear', 'BTCUSDT', '--reason', 'fixed', '--yes'], {
      env: env(),
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/engine .* sets a new hold within one cycle/);
    expect(await t.redis.exists(t.keys.hold('BTCUSDT'), t.keys.holdOwner('BTCUSDT'))).toBe(0);
    expect(await events()).toMatchObject([
      {
        event: 'MANUAL_HOLD_CLEARED',
        symbol: 'BTCUSDT',
        reason: 'fixed',
        operator: 'tester',
        previous_owner: 'p34',
      },
    ]);
  });

  it('with no hold: exit 0, nothing written, no event', async () => {
    const run = await runCli(['hold', 'clear', 'BTCUSDT', '--reason', 'r', '--yes'], {
      env: env(),
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/no hold on BTCUSDT/);
    expect(await events()).toEqual([]);
  });
});
