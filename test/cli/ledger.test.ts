import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeLedger } from '../../src/domain/ledger.js';
import { decodeSnapshot } from '../../src/domain/snapshot.js';
import { epsilonFor, parseAmount } from '../../src/domain/amount.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { assertBuilt, runCli } from './run-cli.js';

let t: TestRedis;
const env = (): Record<string, string> => ({
  REDIS_URL: t.url,
  KEY_PREFIX: t.prefix,
  P34_EXCHANGE_FRESHNESS_SEC: '10',
  P33_LEDGER_TTL_SEC: '3600',
});

async function lastEvent(): Promise<Record<string, string>> {
  const [entry] = await t.redis.xrevrange(t.keys.reconcileEventsStream, '+', '-', 'COUNT', 1);
  const flat = entry?.[1] ?? [];
  const fields: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) fields[flat[i] ?? ''] = flat[i + 1] ?? '';
  return fields;
}

beforeAll(() => assertBuilt());
beforeEach(() => {
  t = openTestRedis('ledger');
});
afterEach(() => t.close());

describe('posguard ledger set', () => {
  it('bumps the version, writes canonical + mirror fields, keeps order fields, renews the TTL, audits', async () => {
    await t.redis.hset(t.keys.ledger('BTCUSDT'), {
      ledger_amt: '0.030',
      ledger_side: 'LONG',
      version: '7',
      source: 'apply',
      last_order_id: '991',
      last_order_time_ms: '1700000000000',
      last_result_id: '1700000000000-0',
    });
    const run = await runCli(
      [
        'ledger',
        'set',
        'BTCUSDT',
        '-0.5',
        '--reason',
        'short opened by hand',
        '--yes',
        '--operator',
        'carol',
      ],
      {
        env: env(),
      },
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/0\.03 → -0\.5 \(version 7 → 8\)/);
    const hash = await t.redis.hgetall(t.keys.ledger('BTCUSDT'));
    expect(hash).toMatchObject({
      ledger_amt: '-0.5',
      ledger_side: 'SHORT',
      version: '8',
      source: 'p34_manual',
      last_known_amt: '-0.5',
      last_known_side: 'SHORT',
      last_order_id: '991',
      last_order_time_ms: '1700000000000',
      last_result_id: '1700000000000-0',
    });
    expect(hash.last_update_ts).toBe(hash.ts_epoch);
    const ttl = await t.redis.pttl(t.keys.ledger('BTCUSDT'));
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(await lastEvent()).toMatchObject({
      event: 'MANUAL_LEDGER_SET',
      symbol: 'BTCUSDT',
      reason: 'short opened by hand',
      operator: 'carol',
      old_ledger_amt: '0.03',
      new_ledger_amt: '-0.5',
      old_version: '7',
      new_version: '8',
    });
  });

  it('repairs an invalid ledger (FLAT with an amount) and a missing one', async () => {
    await t.redis.hset(t.keys.ledger('ETHUSDT'), {
      ledger_amt: '2',
      ledger_side: 'FLAT',
      version: '3',
    });
    const fix = await runCli(
      ['ledger', 'set', 'ETHUSDT', '0', '--reason', 'flat', '--yes', '--json'],
      { env: env() },
    );
    expect(fix.code).toBe(0);
    expect(JSON.parse(fix.stdout)).toMatchObject({
      old_ledger_state: 'invalid',
      old_ledger_amt: '2',
      new_ledger_amt: '0',
      new_version: '4',
    });
    const read = decodeLedger(await t.redis.hgetall(t.keys.ledger('ETHUSDT')), epsilonFor(null));
    expect(read.kind === 'ok' && read.ledger.side).toBe('FLAT');

    const fresh = await runCli(['ledger', 'set', 'SOLUSDT', '12.25', '--reason', 'init', '--yes'], {
      env: env(),
    });
    expect(fresh.code).toBe(0);
    expect(await t.redis.hget(t.keys.ledger('SOLUSDT'), 'version')).toBe('1');
  });

  it('refuses a non-decimal amount (exit 2) and needs --yes without a terminal (exit 2)', async () => {
    expect(
      (await runCli(['ledger', 'set', 'BTCUSDT', '1e', '--reason', 'x', '--yes'], { env: env() }))
        .code,
    ).toBe(2);
    expect(
      (await runCli(['ledger', 'set', 'BTCUSDT', '0x10', '--reason', 'x', '--yes'], { env: env() }))
        .code,
    ).toBe(2);
    const noYes = await runCli(['ledger', 'set', 'BTCUSDT', '1', '--reason', 'x'], { env: env() });
    expect(noYes.code).toBe(2);
    expect(await t.redis.exists(t.keys.ledger('BTCUSDT'))).toBe(0);
  });
});

describe('posguard ledger adopt (LESSONS #17: the way out of an external-trade hold)', () => {
  async function externalTrade(ageMs: number): Promise<void> {
    // posguard's ledger says 0.05 LONG; someone closed 0.02 by hand on the exchange.
    await t.redis.hset(t.keys.ledger('BTCUSDT'), {
      ledger_amt: '0.05',
      ledger_side: 'LONG',
      version: '12',
      last_order_id: '5',
    });
    await t.redis.hset(t.keys.snapshot('BTCUSDT'), {
      position_amt: '0.03',
      side: 'LONG',
      ts_ms: String(Date.now() - ageMs),
    });
    await t.redis.hset(t.keys.symbolLotSize('BTCUSDT'), { step_size: '0.001', min_qty: '0.001' });
    await t.redis.set(t.keys.hold('BTCUSDT'), '1', 'EX', 300);
    await t.redis.set(t.keys.holdOwner('BTCUSDT'), 'p34');
  }

  it("takes the fresh snapshot's amount, so the engine would see the ledger agree with the exchange", async () => {
    await externalTrade(1000);
    const run = await runCli(
      ['ledger', 'adopt', 'BTCUSDT', '--reason', 'closed 0.02 by hand', '--yes'],
      { env: env() },
    );
    expect(run.code).toBe(0);
    const ledger = decodeLedger(
      await t.redis.hgetall(t.keys.ledger('BTCUSDT')),
      epsilonFor(parseAmount('0.001')),
    );
    const snapshot = decodeSnapshot(await t.redis.hgetall(t.keys.snapshot('BTCUSDT')));
    expect(ledger.kind).toBe('ok');
    expect(snapshot.kind).toBe('ok');
    if (ledger.kind !== 'ok' || snapshot.kind !== 'ok') return;
    expect(ledger.ledger.amount.eq(snapshot.snapshot.amount)).toBe(true);
    expect(ledger.ledger.version).toBe(13);
    expect(ledger.ledger.source).toBe('p34_manual');
    expect(ledger.ledger.lastOrderId).toBe('5');
    expect(await lastEvent()).toMatchObject({
      event: 'MANUAL_LEDGER_ADOPT',
      old_ledger_amt: '0.05',
      new_ledger_amt: '0.03',
      snapshot_amt: '0.03',
      operator: 'tester',
      reason: 'closed 0.02 by hand',
    });
  });

  it('refuses a stale snapshot (exit 1, nothing written) unless --allow-stale', async () => {
    await externalTrade(60_000);
    const stale = await runCli(['ledger', 'adopt', 'BTCUSDT', '--reason', 'r', '--yes'], {
      env: env(),
    });
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/P34_EXCHANGE_FRESHNESS_SEC=10.*--allow-stale/);
    expect(await t.redis.hget(t.keys.ledger('BTCUSDT'), 'version')).toBe('12');
    expect(await t.redis.xlen(t.keys.reconcileEventsStream)).toBe(0);

    const forced = await runCli(
      ['ledger', 'adopt', 'BTCUSDT', '--reason', 'r', '--yes', '--allow-stale', '--json'],
      { env: env() },
    );
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ new_ledger_amt: '0.03', allow_stale: '1' });
  });

  it('refuses when there is no snapshot', async () => {
    const run = await runCli(['ledger', 'adopt', 'BTCUSDT', '--reason', 'r', '--yes'], {
      env: env(),
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/no exchange snapshot/);
    expect(await t.redis.exists(t.keys.ledger('BTCUSDT'))).toBe(0);
  });
});

describe('posguard ledger show', () => {
  it('shows the decoded ledger and the raw fields, legacy shape included', async () => {
    await t.redis.hset(t.keys.ledger('BTCUSDT'), {
      last_known_amt: '-0.2',
      last_known_side: 'SHORT',
      last_update_ts: '1700000000',
    });
    const run = await runCli(['ledger', 'show', 'BTCUSDT', '--json'], { env: env() });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      state: 'ok',
      amount: '-0.2',
      side: 'SHORT',
      version: 0,
      raw: { last_known_amt: '-0.2' },
    });
    const text = await runCli(['ledger', 'show', 'BTCUSDT'], { env: env() });
    expect(text.stdout).toMatch(/amount\s+-0\.2 SHORT/);
    expect(text.stdout).toMatch(/last_known_side = SHORT/);
  });
});
