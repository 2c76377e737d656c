import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { ledgerFields, snapshotFields, writeSymbol } from '../reconcile/fixtures.js';
import { ManualClock, makeEngine } from '../reconcile/harness.js';
import { assertBuilt, runCli } from './run-cli.js';

let t: TestRedis;
const env = (): Record<string, string> => ({
  REDIS_URL: t.url,
  KEY_PREFIX: t.prefix,
  P34_ALLOWLIST: 'BTCUSDT,ETHUSDT',
  P33_ALLOWLIST: 'BTCUSDT,SOLUSDT',
});

beforeAll(() => assertBuilt());
beforeEach(() => {
  t = openTestRedis('cli');
});
afterEach(() => t.close());

async function seedBtc(): Promise<void> {
  await t.redis.hset(t.keys.snapshot('BTCUSDT'), {
    position_amt: '0.038',
    side: 'LONG',
    ts_ms: String(Date.now() - 2000),
  });
  // A legacy-shaped ledger (LESSONS #1): read through the one codec, never as zero.
  await t.redis.hset(t.keys.ledger('BTCUSDT'), {
    last_known_amt: '0.030',
    last_known_side: 'LONG',
  });
  await t.redis.hset(t.keys.symbolLotSize('BTCUSDT'), { step_size: '0.001', min_qty: '0.001' });
  await t.redis.hset(t.keys.reconcileState('BTCUSDT'), {
    status: 'HOLD',
    reason: 'qty_mismatch_no_evidence',
  });
  // An engine hold, as the engine writes it: the marker records the hold's exact expiry.
  await t.redis.set(t.keys.hold('BTCUSDT'), '1', 'EX', 300);
  const at = String(await t.redis.call('PEXPIRETIME', t.keys.hold('BTCUSDT')));
  await t.redis.set(t.keys.holdOwner('BTCUSDT'), `p34:${at}`);
  await t.redis.hset(t.keys.snapshot('ETHUSDT'), {
    position_amt: '-1.5',
    ts_ms: String(Date.now()),
  });
  await t.redis.hset(t.keys.ledger('ETHUSDT'), {
    ledger_amt: '3',
    ledger_side: 'FLAT',
    version: '2',
  });
}

describe('posguard status', () => {
  it('prints one aligned table for both allowlists, without ANSI codes when not a TTY', async () => {
    await seedBtc();
    const run = await runCli(['status'], { env: env() });
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^SYMBOL\s+EXCHANGE\s+LEDGER\s+DIFF\s+STATUS\s+REASON\s+HOLD\s+HOLD_TTL\s+SNAP_AGE$/,
    );
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual([
      'SYMBOL',
      'BTCUSDT',
      'ETHUSDT',
      'SOLUSDT',
    ]);
    const btc = lines[1] ?? '';
    expect(btc).toMatch(
      /BTCUSDT\s+0\.038\s+0\.03\s+0\.008\s+HOLD\s+qty_mismatch_no_evidence\s+yes \(p34\)\s+\d+s\s+\d+\.\ds/,
    );
    expect(lines[2]).toMatch(/ETHUSDT\s+-1\.5\s+invalid\s+-/);
    expect(run.stdout.includes(String.fromCharCode(27))).toBe(false);
    // Aligned: every row's STATUS column starts at the same offset as the header's.
    const col = (lines[0] ?? '').indexOf('STATUS');
    expect(btc.slice(col, col + 4)).toBe('HOLD');
  });

  it('--json gives decimal strings and the hold owner; symbols can be chosen', async () => {
    await seedBtc();
    await t.redis.del(t.keys.holdOwner('BTCUSDT'));
    const run = await runCli(['status', 'btcusdt', '--json'], { env: env() });
    expect(run.code).toBe(0);
    const rows = JSON.parse(run.stdout) as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      symbol: 'BTCUSDT',
      exchange_amt: '0.038',
      ledger_amt: '0.03',
      ledger_state: 'ok',
      diff_amt: '0.008',
      status: 'HOLD',
      hold: true,
      hold_owner: 'operator',
    });
    expect(rows[0]?.hold_ttl_sec).toBeGreaterThan(290);
    expect(rows[0]?.snapshot_age_sec).toBeGreaterThanOrEqual(1.5);
  });

  it('a key of the wrong type shows as wrong_type instead of crashing', async () => {
    await t.redis.set(t.keys.snapshot('BTCUSDT'), 'oops');
    const run = await runCli(['status', 'BTCUSDT', '--json'], { env: env() });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject([
      { exchange_state: 'wrong_type', exchange_amt: null },
    ]);
  });

  it("since_ts is the second the engine's status began (since_ts_ms, else since_ts)", async () => {
    await seedBtc();
    await t.redis.hset(t.keys.reconcileState('BTCUSDT'), {
      since_ts: '1735680000',
      since_ts_ms: '1735680000250',
    });
    await t.redis.hset(t.keys.reconcileState('ETHUSDT'), { status: 'OK', since_ts: '1735680001' });
    const run = await runCli(['status', 'BTCUSDT', 'ETHUSDT', 'SOLUSDT', '--json'], { env: env() });
    expect(run.code).toBe(0);
    const rows = JSON.parse(run.stdout) as Array<Record<string, unknown>>;
    expect(rows.map((r) => [r.status, r.since_ts])).toEqual([
      ['HOLD', '1735680000'],
      ['OK', '1735680001'],
      [null, null],
    ]);
  });

  it('a bad symbol is a usage error (exit 2)', async () => {
    const run = await runCli(['status', 'BTC/USDT'], { env: env() });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/expected a symbol/);
  });
});

describe('an operator SETEX on top of a real engine hold (SPEC §7)', () => {
  it("status and holds show the engine's hold as p34, then the operator's once SETEX rewrote it", async () => {
    const clock = new ManualClock(Date.now());
    const h = makeEngine(t.redis, t.keys, clock, { url: t.url });
    const cycle = async (exchange: string): Promise<void> => {
      clock.advance(1000);
      await writeSymbol(t.redis, t.keys, 'BTCUSDT', {
        snapshot: snapshotFields(exchange, clock.ms - 300),
      });
      await h.engine.runOnce();
    };
    const owners = async (): Promise<[unknown, unknown]> => {
      const status = await runCli(['status', 'BTCUSDT', '--json'], { env: env() });
      const holds = await runCli(['holds', '--json'], { env: env() });
      expect([status.code, holds.code]).toEqual([0, 0]);
      const row = (JSON.parse(status.stdout) as Array<Record<string, unknown>>)[0];
      const hold = (JSON.parse(holds.stdout) as Array<Record<string, unknown>>)[0];
      return [row?.hold_owner, hold?.owner];
    };
    await writeSymbol(t.redis, t.keys, 'BTCUSDT', { ledger: ledgerFields('0.05', clock.ms) });
    await cycle('0.062'); // drift without evidence: the engine holds
    expect(await owners()).toEqual(['p34', 'p34']);
    await t.redis.setex(t.keys.hold('BTCUSDT'), 3600, '1'); // the seed's operator command
    await cycle('0.062'); // the engine still needs a hold: the operator's, shared
    expect(await owners()).toEqual(['shared', 'shared']);
    await cycle('0.05'); // condition cleared: the hold stays, the operator's
    await cycle('0.05');
    expect(await owners()).toEqual(['operator', 'operator']);
    expect(await t.redis.pttl(t.keys.hold('BTCUSDT'))).toBeGreaterThan(3_500_000);
  });
});

describe('posguard holds', () => {
  it('lists every hold under the prefix with owner and TTL, and none of another prefix', async () => {
    await seedBtc();
    await t.redis.set(t.keys.hold('ETHUSDT'), '1', 'EX', 120);
    await t.redis.set(t.keys.holdOwner('ETHUSDT'), 'shared');
    await t.redis.set(t.keys.hold('SOLUSDT'), '1');
    const other = openTestRedis('other');
    await other.redis.set(other.keys.hold('BTCUSDT'), '1', 'EX', 60);
    try {
      const run = await runCli(['holds', '--json'], { env: env() });
      expect(run.code).toBe(0);
      const rows = JSON.parse(run.stdout) as Array<{
        symbol: string;
        owner: string;
        ttl_sec: number | null;
      }>;
      expect(rows.map((r) => [r.symbol, r.owner])).toEqual([
        ['BTCUSDT', 'p34'],
        ['ETHUSDT', 'shared'],
        ['SOLUSDT', 'operator'],
      ]);
      expect(rows[2]?.ttl_sec).toBeNull();
      const table = await runCli(['holds'], { env: env() });
      expect(table.stdout).toMatch(/SOLUSDT\s+operator\s+no TTL/);
    } finally {
      await other.redis.del(other.keys.hold('BTCUSDT'));
      await other.close();
    }
  });

  it('a hold key that names no symbol (written by hand) is listed by its TTL, owner unknown', async () => {
    await seedBtc();
    const stray = `${t.prefix}:reconcile:hold:btc-usdt`;
    await t.redis.set(stray, '1', 'EX', 30);
    const run = await runCli(['holds', '--json'], { env: env() });
    expect(run.code).toBe(0);
    const rows = JSON.parse(run.stdout) as Array<Record<string, unknown>>;
    expect(rows.map((r) => [r.key, r.symbol, r.owner])).toEqual([
      [t.keys.hold('BTCUSDT'), 'BTCUSDT', 'p34'],
      [stray, null, 'unknown'],
    ]);
    expect(rows[1]?.ttl_sec).toBeGreaterThan(25);
  });

  it('says so when there are none', async () => {
    const run = await runCli(['holds'], { env: env() });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`no holds under prefix ${t.prefix}`);
  });
});
