/**
 * Concurrency and clock faults on real Redis, through the services' library APIs:
 *
 * - two brains in one consumer group: every plan evaluated once, one permit per plan id;
 * - two reconcile engines on the same symbols, cycles interleaved: one AUTO_REPAIR per
 *   evidence, one HOLD_SET per episode;
 * - an operator `ledger set` racing repairs: the version CAS decides, no write is lost;
 * - a snapshot stamped in the future, and a clock stepping backwards: no repair.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { PLAN_GROUP } from '../../src/brain/plan-evaluator.js';
import { Decimal } from '../../src/domain/amount.js';
import { fieldsToRecord } from '../../src/domain/apply-result.js';
import { encodeLedger } from '../../src/domain/ledger.js';
import { encodeLotSize } from '../../src/domain/lot-size.js';
import { encodeSnapshot } from '../../src/domain/snapshot.js';
import type { Clock } from '../../src/domain/time.js';
import { loadConfig } from '../../src/config/config.js';
import { writeManualLedger } from '../../src/operator/manual-ledger.js';
import { ReconcileEngine } from '../../src/reconcile/engine.js';
import { createReconcileMetrics } from '../../src/reconcile/metrics.js';
import type { WriterTerm } from '../../src/redis/ha/writer-term.js';
import type { Keys } from '../../src/redis/keys.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { testTerm } from '../helpers/terms.js';
import { counterValue, drained, startBrainPieces, until } from '../helpers/reliability-brain.js';
import { captureLogs } from '../helpers/logs.js';
import { recordFigure } from '../helpers/reliability-figures.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { sleep } from '../helpers/wait.js';

let t: TestRedis;
beforeEach(() => {
  t = openTestRedis('cc');
});
afterEach(async () => {
  await t.close();
});

async function snapshot(
  redis: Redis,
  keys: Keys,
  symbol: string,
  amount: string,
  takenMs: number,
): Promise<void> {
  await redis.hset(
    keys.snapshot(symbol),
    encodeSnapshot({
      amount: new Decimal(amount),
      side: 'FLAT',
      entryPrice: null,
      markPrice: null,
      leverage: '5',
      unrealizedPnl: null,
      takenMs,
      exchangeUpdateMs: null,
      source: 'rest',
    }),
  );
}

async function ledger(
  redis: Redis,
  keys: Keys,
  symbol: string,
  amount: string,
  nowMs: number,
): Promise<void> {
  await redis.hset(
    keys.ledger(symbol),
    encodeLedger({ amount: new Decimal(amount), source: 'p34_init', nowMs, previousVersion: 0 }),
  );
  await redis.hset(
    keys.symbolLotSize(symbol),
    encodeLotSize(
      { stepSize: new Decimal('0.001'), minQty: new Decimal('0.001'), maxQty: null },
      nowMs,
    ),
  );
}

/** A fill that explains `ex − ledger`, executed before the snapshot. */
async function fill(
  redis: Redis,
  keys: Keys,
  symbol: string,
  qty: string,
  side: 'BUY' | 'SELL',
  atMs: number,
): Promise<void> {
  await redis.xadd(
    keys.applyResultStream,
    '*',
    'symbol',
    symbol,
    'executed',
    'true',
    'filled_qty',
    qty,
    'side',
    side,
    'order_id',
    `o-${atMs}`,
    'plan_id',
    `p-${atMs}`,
    'ts_ms',
    String(atMs),
  );
}

/** An engine writing as the reconcile leader: its own term (the test's lease), or `term`. */
async function engine(
  redis: Redis,
  keys: Keys,
  symbols: string[],
  clock: Clock,
  term?: WriterTerm,
): Promise<ReconcileEngine> {
  return new ReconcileEngine({
    redis,
    keys,
    reconcile: loadConfig({ P34_ALLOWLIST: symbols.join(','), P34_HOLD_TTL_SEC: '60' }).reconcile,
    ledger: { ledgerTtlSec: 86400 },
    clock,
    logger: captureLogs('info').logger,
    metrics: createReconcileMetrics(),
    term: term ?? (await testTerm(redis, keys, 'reconcile', 'engine')),
    instanceId: 'test:engine',
  });
}

async function events(redis: Redis, keys: Keys): Promise<Record<string, string>[]> {
  return (await redis.xrange(keys.reconcileEventsStream, '-', '+')).map(([, f]) =>
    fieldsToRecord(f),
  );
}

describe('concurrency', () => {
  it('two brains in one consumer group: each plan evaluated once, one permit per plan id', async () => {
    const { redis, keys } = t;
    await redis.set(keys.reconcileHeartbeat, '{}', 'PX', 600_000);
    const a = startBrainPieces({ url: t.url, keys, allowlist: ['BTCUSDT'], consumer: 'brain-a' });
    const b = startBrainPieces({ url: t.url, keys, allowlist: ['BTCUSDT'], consumer: 'brain-b' });
    const N = 600;
    try {
      await Promise.all([a.ready(), b.ready()]);
      for (let i = 0; i < N; i += 1) {
        // Every 10th plan id is sent twice (a planner retry), possibly to the other brain.
        const id = `two-${i - (i % 10 === 9 ? 1 : 0)}`;
        await redis.xadd(
          keys.applyPlanStream,
          '*',
          'plan_id',
          id,
          'symbol',
          'BTCUSDT',
          'decision',
          'EXECUTE',
          'action',
          'FULL_CLOSE',
          'reduceOnly',
          'true',
        );
      }
      await until(() => drained(redis, keys.applyPlanStream, PLAN_GROUP));
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    const unique = N - N / 10;
    const issuedA = await counterValue(a.metrics, 'p33_permit_total');
    const issuedB = await counterValue(b.metrics, 'p33_permit_total');
    expect(issuedA + issuedB).toBe(unique);
    expect(issuedA).toBeGreaterThan(0);
    expect(issuedB).toBeGreaterThan(0);
    expect((await redis.keys(`${keys.prefix}:permit:p33:*`)).length).toBe(unique);
    recordFigure('concurrency', {
      fault: 'two brains in one consumer group',
      test: 'test/reliability/concurrency-clock.test.ts › two brains…',
      iterations: N,
      observed: `${N} entries (${unique} plan ids, ${N - unique} resent) → ${issuedA} + ${issuedB} permits issued by brain-a + brain-b = ${unique}, none twice`,
      lost: 0,
    });
  });

  it('two engines on the same symbols: one AUTO_REPAIR per evidence, one HOLD_SET per episode', async () => {
    const { redis, keys } = t;
    const now = Date.now();
    const clock = { nowMs: () => Date.now() };
    // REPUSDT: drift −0.001 explained by a SELL fill. HOLDUSDT: drift nothing explains.
    await ledger(redis, keys, 'REPUSDT', '1', now - 5000);
    await ledger(redis, keys, 'HOLDUSDT', '1', now - 5000);
    await fill(redis, keys, 'REPUSDT', '0.001', 'SELL', now - 3000);
    await snapshot(redis, keys, 'REPUSDT', '0.999', now - 1000);
    await snapshot(redis, keys, 'HOLDUSDT', '1.5', now - 1000);
    const symbols = ['REPUSDT', 'HOLDUSDT'];
    // Two writers in one term (SPEC §11 leaves one engine per term; two terms would fence the
    // older one): the scripts' compare-and-set still keeps their interleaved cycles exact.
    const term = await testTerm(redis, keys, 'reconcile', 'both');
    const one = await engine(redis, keys, symbols, clock, term);
    const two = await engine(redis, keys, symbols, clock, term);
    const CYCLES = 20;
    for (let i = 0; i < CYCLES; i += 1) await Promise.all([one.runOnce(), two.runOnce()]);
    const all = await events(redis, keys);
    const repairs = all.filter((e) => e.event === 'AUTO_REPAIR');
    const holds = all.filter((e) => e.event === 'HOLD_SET' && e.symbol === 'HOLDUSDT');
    expect(repairs).toHaveLength(1);
    expect(holds).toHaveLength(1);
    expect(await redis.hget(keys.ledger('REPUSDT'), 'ledger_amt')).toBe('0.999');
    expect(await redis.hget(keys.ledger('REPUSDT'), 'version')).toBe('2');
    expect(await redis.exists(keys.hold('HOLDUSDT'))).toBe(1);
    recordFigure('concurrency', {
      fault: 'two reconcile engines on the same symbols',
      test: 'test/reliability/concurrency-clock.test.ts › two engines…',
      iterations: 2 * CYCLES,
      observed: `${2 * CYCLES} interleaved cycles → ${repairs.length} AUTO_REPAIR (ledger version 1→2 once), ${holds.length} HOLD_SET for the unexplained drift`,
      lost: 0,
    });
  });

  it('operator ledger set racing repairs: the version CAS decides, no write is lost', async () => {
    const { redis, keys } = t;
    const clock = { nowMs: () => Date.now() };
    const eng = await engine(redis, keys, ['RACEUSDT'], clock);
    const random = seededRandom(); // where the operator lands in each round
    const ROUNDS = 30;
    let manual = 0;
    let conflicts = 0;
    let manualRetried = 0;
    for (let i = 0; i < ROUNDS; i += 1) {
      // Each round: a drift with evidence (the engine wants to repair) and an operator
      // setting the ledger at the same moment.
      const now = Date.now();
      const current = new Decimal((await redis.hget(keys.ledger('RACEUSDT'), 'ledger_amt')) ?? '1');
      if (i === 0) await ledger(redis, keys, 'RACEUSDT', '1', now - 5000);
      const base = i === 0 ? new Decimal('1') : current;
      await fill(redis, keys, 'RACEUSDT', '0.001', 'SELL', now - 500);
      await new Promise((r) => setTimeout(r, 2));
      await snapshot(redis, keys, 'RACEUSDT', base.minus('0.001').toFixed(), Date.now());
      const repair = async (): Promise<void> => {
        const report = await eng.runOnce();
        const commit = report.outcomes[0]?.commit;
        if (report.outcomes[0]?.decision.action === 'auto_repair' && commit?.code === 'conflict')
          conflicts += 1;
      };
      const operator = (): ReturnType<typeof writeManualLedger> =>
        writeManualLedger(redis, keys, {
          symbol: 'RACEUSDT',
          reason: 'race test',
          operator: 'tester',
          clock,
          ledgerTtlSec: 86400,
          target: async () => {
            // Land anywhere from before the engine's read to after its commit.
            await sleep(random.between(0, 3));
            return {
              amount: base.minus('0.001'),
              event: 'MANUAL_LEDGER_SET' as const,
              details: {},
            };
          },
        });
      // Alternate which side starts first so both orders of the race happen.
      const result =
        i % 2 === 0
          ? (await Promise.all([repair(), operator()]))[1]
          : (await Promise.all([operator(), repair()]))[0];
      manual += result.newVersion !== '' ? 1 : 0;
      if (result.attempts > 1) manualRetried += 1;
      await new Promise((r) => setTimeout(r, 5));
    }
    const all = (await events(redis, keys)).filter((e) => e.symbol === 'RACEUSDT');
    const repairs = all.filter((e) => e.event === 'AUTO_REPAIR').length;
    const sets = all.filter((e) => e.event === 'MANUAL_LEDGER_SET').length;
    expect(sets).toBe(manual);
    expect(sets).toBe(ROUNDS);
    // Every write (manual or repair) bumped the version exactly once: nothing overwritten unseen.
    expect(Number(await redis.hget(keys.ledger('RACEUSDT'), 'version'))).toBe(1 + sets + repairs);
    recordFigure('concurrency', {
      fault: 'operator `ledger set` racing auto-repairs',
      test: 'test/reliability/concurrency-clock.test.ts › operator ledger set racing repairs…',
      iterations: ROUNDS,
      observed: `${sets} MANUAL_LEDGER_SET + ${repairs} AUTO_REPAIR = ${sets + repairs} ledger writes = version increments; ${conflicts} repairs refused by the CAS (operator first), ${manualRetried} operator writes refused then retried (repair first); no write overwritten unseen`,
      lost: 0,
    });
  });
});

describe('clock faults', () => {
  it('a snapshot stamped in the future never justifies a repair', async () => {
    const { redis, keys } = t;
    const now = Date.now();
    await ledger(redis, keys, 'FUTUSDT', '1', now - 5000);
    await fill(redis, keys, 'FUTUSDT', '0.001', 'SELL', now - 3000);
    await snapshot(redis, keys, 'FUTUSDT', '0.999', now + 60_000);
    const eng = await engine(redis, keys, ['FUTUSDT'], { nowMs: () => Date.now() });
    const report = await eng.runOnce();
    expect(report.outcomes[0]?.decision.status).toBe('HOLD');
    expect(report.outcomes[0]?.decision.reason).toBe('stale_exchange');
    expect(await redis.hget(keys.ledger('FUTUSDT'), 'version')).toBe('1');
    expect(await redis.exists(keys.hold('FUTUSDT'))).toBe(1);
  });

  it('the clock stepping 1 h backwards between cycles: no repair, hold, then normal again', async () => {
    const { redis, keys } = t;
    let offset = 0;
    const clock = { nowMs: () => Date.now() + offset };
    const now = Date.now();
    await ledger(redis, keys, 'BACKUSDT', '1', now - 5000);
    await snapshot(redis, keys, 'BACKUSDT', '1', now - 500);
    const eng = await engine(redis, keys, ['BACKUSDT'], clock);
    expect((await eng.runOnce()).outcomes[0]?.decision.status).toBe('OK');
    // A drift with evidence appears exactly when the clock steps back an hour.
    await fill(redis, keys, 'BACKUSDT', '0.001', 'SELL', Date.now() - 300);
    await snapshot(redis, keys, 'BACKUSDT', '0.999', Date.now() - 100);
    offset = -3_600_000;
    const stepped = await eng.runOnce();
    expect(stepped.outcomes[0]?.decision.action).not.toBe('auto_repair');
    expect(stepped.outcomes[0]?.decision.status).toBe('HOLD');
    expect(await redis.hget(keys.ledger('BACKUSDT'), 'version')).toBe('1');
    // Clock fixed: the same evidence now justifies the one repair.
    offset = 0;
    await snapshot(redis, keys, 'BACKUSDT', '0.999', Date.now());
    const fixed = await eng.runOnce();
    expect(fixed.outcomes[0]?.decision.status).toBe('REPAIRED');
    recordFigure('clock', {
      fault: 'snapshot stamped 60 s in the future; engine clock stepped back 1 h',
      test: 'test/reliability/concurrency-clock.test.ts › clock faults',
      iterations: 2,
      observed:
        'HOLD stale_exchange, ledger untouched while the clock was wrong; one repair once it was right',
      lost: 0,
    });
  });
});
