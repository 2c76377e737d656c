/**
 * Hold ownership by expiry (SPEC §7, issue 10 item 1): the engine recognises its own hold by
 * the exact PEXPIRETIME it recorded with its owner marker. An operator's `redis-cli SETEX …
 * 3600 1` written on top of an engine hold changes that expiry, so the hold is the operator's
 * from then on: never shortened, never deleted, no HOLD_CLEARED. And a hold that something
 * deletes every cycle is one HOLD_SET per episode plus a counter (item 7), not an event per
 * cycle. Real engine, real Redis.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/dev/redis-server.js';
import { plannedAction } from '../../src/cli/output/reconcile-report.js';
import { buildKeys } from '../../src/redis/keys.js';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import { T0, ledgerFields, snapshotFields, writeSymbol } from './fixtures.js';
import { ManualClock, makeEngine, metricValue, readEvents } from './harness.js';

const SYM = 'BTCUSDT';
const HOLD_TTL_MS = 300_000;
const OPERATOR_TTL_MS = 3_600_000;

/** One engine against one Redis, with a manual clock. */
function rig(
  redis: Redis,
  keys: ReturnType<typeof buildKeys>,
  url: string,
  env: Record<string, string> = {},
) {
  const clock = new ManualClock(T0);
  const h = makeEngine(redis, keys, clock, { url, env });
  /** One cycle a second later, with the brain's fresh snapshot of `exchange`. */
  const cycle = async (exchange: string): Promise<void> => {
    clock.advance(1000);
    await writeSymbol(redis, keys, SYM, { snapshot: snapshotFields(exchange, clock.ms - 300) });
    await h.engine.runOnce();
  };
  const events = async (): Promise<string[]> =>
    (await readEvents(redis, keys)).map((e) => `${e.fields.event}:${e.fields.reason}`);
  return { clock, h, cycle, events };
}

/** The operator SETEX → many cycles → condition clears story, for any server. */
async function operatorSetexOnTop(
  redis: Redis,
  keys: ReturnType<typeof buildKeys>,
  r: ReturnType<typeof rig>,
): Promise<void> {
  await writeSymbol(redis, keys, SYM, { ledger: ledgerFields('0.05', T0 - 60_000) });
  await r.cycle('0.062'); // HOLD qty_mismatch_no_evidence: the engine's hold
  expect(await redis.get(keys.hold(SYM))).toBe('1');
  const planned = async (): Promise<string> => {
    const [outcome] = (await r.h.engine.runOnce({ dryRun: true })).outcomes;
    return outcome ? plannedAction(outcome) : '';
  };
  // The seed's documented operator command, on top of the engine's hold.
  await redis.setex(keys.hold(SYM), OPERATOR_TTL_MS / 1000, '1');
  // `posguard reconcile --dry-run` tells the same story as the commit script.
  expect(await planned()).toBe('share foreign hold');
  for (let i = 0; i < 30; i += 1) {
    await r.cycle('0.062');
    expect(await redis.pttl(keys.hold(SYM))).toBeGreaterThan(OPERATOR_TTL_MS - 60_000);
  }
  // The condition clears: the engine's reason is gone, the operator's hold is not.
  for (let i = 0; i < 5; i += 1) {
    await r.cycle('0.05');
    expect(await redis.get(keys.hold(SYM))).toBe('1');
    expect(await redis.pttl(keys.hold(SYM))).toBeGreaterThan(OPERATOR_TTL_MS - 60_000);
  }
  expect(await redis.hget(keys.reconcileState(SYM), 'status')).toBe('OK');
  expect(await redis.hget(keys.reconcileState(SYM), 'hold_by')).toBe('foreign');
  expect(await r.events()).toEqual(['HOLD_SET:qty_mismatch_no_evidence']);
  expect(await metricValue(r.h.metrics, 'p34_reconcile_hold_active', { symbol: SYM })).toBe(1);
}

describe('hold ownership by expiry', () => {
  let t: TestRedis;
  let r: ReturnType<typeof rig>;

  beforeEach(() => {
    t = openTestRedis('ho');
    r = rig(t.redis, t.keys, t.url);
  });
  afterEach(() => t.close());

  it('an operator SETEX 3600 on top of an engine hold is never shortened, never deleted, never HOLD_CLEARED', async () => {
    await operatorSetexOnTop(t.redis, t.keys, r);
  });

  it("the engine's own hold is re-armed while its condition lasts and cleared (HOLD_CLEARED) when it ends", async () => {
    // A 1 s hold that must outlive 1.5 s of real time: only re-arming keeps it.
    r = rig(t.redis, t.keys, t.url, { P34_HOLD_TTL_SEC: '1' });
    await writeSymbol(t.redis, t.keys, SYM, { ledger: ledgerFields('0.05', T0 - 60_000) });
    const until = Date.now() + 1500;
    let cycles = 0;
    while (Date.now() < until || cycles < 3) {
      await r.cycle('0.062');
      cycles += 1;
      expect(await t.redis.get(t.keys.hold(SYM))).toBe('1');
      expect(await t.redis.hget(t.keys.reconcileState(SYM), 'hold_by')).toBe('p34');
      await new Promise((resolve) => setTimeout(resolve, 20)); // real time passes between cycles
    }
    await r.cycle('0.05');
    expect(await t.redis.exists(t.keys.hold(SYM), t.keys.holdOwner(SYM))).toBe(0);
    expect(await r.events()).toEqual([
      'HOLD_SET:qty_mismatch_no_evidence',
      'HOLD_CLEARED:qty_mismatch_no_evidence',
    ]);
  });

  it('an operator PERSIST (same value, no expiry) makes the hold foreign too', async () => {
    await writeSymbol(t.redis, t.keys, SYM, { ledger: ledgerFields('0.05', T0 - 60_000) });
    await r.cycle('0.062');
    await t.redis.persist(t.keys.hold(SYM)); // "keep it until I say so"
    await r.cycle('0.062');
    await r.cycle('0.05');
    expect(await t.redis.pttl(t.keys.hold(SYM))).toBe(-1);
    expect(await r.events()).toEqual(['HOLD_SET:qty_mismatch_no_evidence']);
  });

  it('a marker without the recorded expiry (an older engine, a hand-written "p34") does not make a hold the engine\'s', async () => {
    await writeSymbol(t.redis, t.keys, SYM, { ledger: ledgerFields('0.05', T0 - 60_000) });
    await t.redis.set(t.keys.hold(SYM), '1', 'PX', 20_000);
    await t.redis.set(t.keys.holdOwner(SYM), 'p34', 'PX', 20_000);
    await r.cycle('0.05'); // OK: a hold the engine cannot prove it set is left alone
    expect(await t.redis.get(t.keys.hold(SYM))).toBe('1');
    expect(await r.events()).toEqual([]);
  });

  it('a hold deleted every cycle while its condition lasts: one HOLD_SET per episode, every loss counted', async () => {
    await writeSymbol(t.redis, t.keys, SYM, { ledger: ledgerFields('0.05', T0 - 60_000) });
    await r.cycle('0.062');
    for (let i = 0; i < 20; i += 1) {
      await t.redis.del(t.keys.hold(SYM)); // the deleter
      await r.cycle('0.062');
      expect(await t.redis.get(t.keys.hold(SYM))).toBe('1'); // the engine put it back
    }
    expect(await r.events()).toEqual(['HOLD_SET:qty_mismatch_no_evidence']);
    expect(await metricValue(r.h.metrics, 'p34_hold_lost_total', { symbol: SYM })).toBe(20);
    expect(
      await metricValue(r.h.metrics, 'p34_reconcile_drift_total', {
        symbol: SYM,
        reason: 'qty_mismatch_no_evidence',
      }),
    ).toBe(1);
    const lost = r.h.lines.filter((l) => l.msg.startsWith('engine hold found deleted'));
    expect(lost).toHaveLength(1); // logged once per episode
    // A new episode after the condition cleared is a new HOLD_SET.
    await r.cycle('0.05');
    await r.cycle('0.062');
    expect(await r.events()).toEqual([
      'HOLD_SET:qty_mismatch_no_evidence',
      'HOLD_CLEARED:qty_mismatch_no_evidence',
      'HOLD_SET:qty_mismatch_no_evidence',
    ]);
  });
});

describe('hold ownership on a server without PEXPIRETIME (Redis < 7.0)', () => {
  let server: EmbeddedRedis;
  let redis: Redis;
  const keys = buildKeys('oldsrv');

  beforeAll(async () => {
    // Renaming the command away gives the 6.2 behaviour for it: "unknown command".
    server = await startEmbeddedRedis({ args: ['--rename-command', 'PEXPIRETIME', ''] });
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('fails closed: holds are kept while needed, never shortened or deleted, and it is logged once', async () => {
    const r = rig(redis, keys, server.url);
    await operatorSetexOnTop(redis, keys, r);
    const warned = r.h.lines.filter((l) => l.msg.includes('PEXPIRETIME'));
    expect(warned).toHaveLength(1);
  });

  it("the engine's own hold outlives its condition by at most P34_HOLD_TTL_SEC", async () => {
    await redis.flushdb();
    const r = rig(redis, keys, server.url);
    await writeSymbol(redis, keys, 'BTCUSDT', { ledger: ledgerFields('0.05', T0 - 60_000) });
    await r.cycle('0.062');
    await r.cycle('0.062');
    expect(await redis.pttl(keys.hold(SYM))).toBeGreaterThan(HOLD_TTL_MS - 10_000);
    await r.cycle('0.05');
    const left = await redis.pttl(keys.hold(SYM));
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(HOLD_TTL_MS);
    expect(await r.events()).toEqual(['HOLD_SET:qty_mismatch_no_evidence']);
  });
});
