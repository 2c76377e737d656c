/**
 * Bad input through the real streams (SPEC §4, §5; LESSONS #13, #18): thousands of random
 * apply.plan and apply.result entries — valid, duplicated, malformed, hostile — written to
 * Redis and consumed by the real brain consumers. Afterwards:
 *
 * - every EXECUTE plan with a valid id has exactly one permit, issued for its FIRST entry;
 * - every other plan got none, and malformed ones were counted as bad input;
 * - each ledger equals its start plus every valid fill applied exactly once, in order;
 * - nothing is left pending, nothing crashed.
 *
 * A second test writes keys of the wrong type (a permit as a hash, a ledger as a string, a
 * hold as a hash, a snapshot as a list) and checks both services deny/hold, never crash.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PLAN_GROUP } from '../../src/brain/plan-evaluator.js';
import { RESULT_GROUP } from '../../src/brain/ledger-updater.js';
import { type Amount, Decimal, epsilonFor, parseAmount } from '../../src/domain/amount.js';
import { parseApplyResult } from '../../src/domain/apply-result.js';
import { isPlanId } from '../../src/domain/identifiers.js';
import { applyFill, decodeLedger, encodeLedger } from '../../src/domain/ledger.js';
import { encodeLotSize } from '../../src/domain/lot-size.js';
import { decodePermit } from '../../src/domain/permit.js';
import { encodeSnapshot } from '../../src/domain/snapshot.js';
import { loadConfig } from '../../src/config/config.js';
import { ReconcileEngine } from '../../src/reconcile/engine.js';
import { createReconcileMetrics } from '../../src/reconcile/metrics.js';
import type { Keys } from '../../src/redis/keys.js';
import type { Redis } from 'ioredis';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { counterValue, drained, startBrainPieces, until } from '../helpers/reliability-brain.js';
import { captureLogs } from '../helpers/logs.js';
import { recordFigure } from '../helpers/reliability-figures.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { testTerm } from '../helpers/terms.js';

const NASTY = ['NaN', 'Infinity', '-0', '1e999', '1e-05', '0x10', '١٢', '', ' ', '🙂', '-1', '1,5'];
const nasty = fc.oneof(fc.constantFrom(...NASTY), fc.string({ maxLength: 12 }));
const smallQty = fc
  .tuple(fc.integer({ min: 1, max: 5000 }), fc.constantFrom(3, 4))
  .map(([n, scale]) => new Decimal(n).div(10 ** scale).toFixed());
const maybe = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.option(arb, { nil: undefined, freq: 3 });

interface PlanInput {
  id: { kind: 'fresh' | 'repeat' | 'raw'; raw: string; pick: number };
  fields: Record<string, string | undefined>;
}

const planArb: fc.Arbitrary<PlanInput> = fc.record({
  id: fc.record({
    kind: fc.constantFrom('fresh', 'fresh', 'fresh', 'repeat', 'raw'),
    raw: fc.oneof(nasty, fc.constantFrom('BTCUSDT:*', '../x', 'a b', 'p\n1', 'x'.repeat(129))),
    pick: fc.nat(),
  }),
  fields: fc.record({
    symbol: maybe(fc.constantFrom('BTCUSDT', 'ETHUSDT', 'btcusdt', 'SOLUSDT', 'BTC*', '')),
    decision: maybe(fc.constantFrom('EXECUTE', 'EXECUTE', 'execute', ' EXECUTE ', 'HOLD', 'SKIP')),
    action: maybe(fc.oneof(fc.constantFrom('FULL_CLOSE', 'PARTIAL_50', 'CLOSE_PARTIAL_25'), nasty)),
    qty: maybe(fc.oneof(smallQty, nasty)),
    reduceOnly: maybe(fc.constantFrom('true', 'True', 'false', '1', 'maybe')),
    timestamp: maybe(fc.oneof(fc.constantFrom('now', 'old'), nasty)),
  }),
});

const goodResultArb = fc.record({
  symbol: fc.constantFrom('BTCUSDT', 'ETHUSDT', ' ethusdt '),
  executed: fc.constantFrom('true', 'True', '1', 'yes'),
  filled_qty: smallQty,
  side: fc.constantFrom('BUY', 'SELL', 'sell'),
  reduceOnly: maybe(fc.constantFrom('true', 'false')),
});

const anyResultArb = fc.record({
  symbol: maybe(fc.constantFrom('BTCUSDT', 'ETHUSDT', 'btcusdt', 'BTC*', '')),
  executed: maybe(fc.constantFrom('true', 'True', '1', 'yes', 'false', '0', 'maybe')),
  filled_qty: maybe(fc.oneof(smallQty, smallQty, nasty)),
  side: maybe(fc.constantFrom('BUY', 'SELL', 'sell', 'HOLD')),
  reduceOnly: maybe(fc.constantFrom('true', 'false', 'x')),
  steps_results: maybe(
    fc.oneof(
      nasty,
      fc
        .array(
          fc.record({
            executed_qty: fc.oneof(smallQty, nasty),
            side: fc.constantFrom('BUY', 'SELL'),
          }),
          {
            maxLength: 3,
          },
        )
        .map((a) => JSON.stringify(a)),
    ),
  ),
  order_id: maybe(fc.oneof(fc.integer({ min: 1, max: 1e9 }).map(String), nasty)),
});

const resultArb: fc.Arbitrary<Record<string, string | undefined>> = fc.oneof(
  { arbitrary: goodResultArb, weight: 1 },
  { arbitrary: anyResultArb, weight: 1 },
);

function flat(fields: Record<string, string | undefined>): string[] {
  return Object.entries(fields).flatMap(([k, v]) => (v === undefined ? [] : [k, v]));
}

let t: TestRedis;

beforeEach(() => {
  t = openTestRedis('fz');
});

afterEach(async () => {
  await t.close();
});

async function seedSymbol(redis: Redis, keys: Keys, symbol: string, amount: string): Promise<void> {
  const now = Date.now();
  await redis.hset(
    keys.snapshot(symbol),
    encodeSnapshot({
      amount: new Decimal(amount),
      side: 'FLAT',
      entryPrice: null,
      markPrice: null,
      leverage: '5',
      unrealizedPnl: null,
      takenMs: now,
      exchangeUpdateMs: null,
      source: 'rest',
    }),
  );
  await redis.hset(
    keys.ledger(symbol),
    encodeLedger({
      amount: new Decimal(amount),
      source: 'p34_init',
      nowMs: now,
      previousVersion: 0,
    }),
  );
  await redis.hset(
    keys.symbolLotSize(symbol),
    encodeLotSize(
      { stepSize: new Decimal('0.001'), minQty: new Decimal('0.001'), maxQty: null },
      now,
    ),
  );
}

describe('random stream entries consumed by the real brain', () => {
  it('every valid EXECUTE plan gets exactly one permit, every fill lands exactly once, bad input is counted', async () => {
    const { seed } = seededRandom(); // printed with the replay command on failure
    const plans = fc.sample(planArb, { numRuns: 2500, seed });
    const results = fc.sample(resultArb, { numRuns: 2500, seed: seed + 1 });
    const { redis, keys } = t;
    const start: Record<string, string> = { BTCUSDT: '1000', ETHUSDT: '-1000' };
    for (const [symbol, amount] of Object.entries(start))
      await seedSymbol(redis, keys, symbol, amount);
    await redis.set(keys.reconcileHeartbeat, '{}', 'PX', 600_000);
    const brain = startBrainPieces({ url: t.url, keys, allowlist: ['BTCUSDT', 'ETHUSDT'] });
    await brain.ready();

    // Write everything, interleaved, recording each entry id and its fields.
    const planEntries: { id: string; fields: Record<string, string> }[] = [];
    const resultEntries: { id: string; fields: Record<string, string> }[] = [];
    const issuedIds: string[] = [];
    try {
      for (let i = 0; i < plans.length; i += 1) {
        const p = plans[i] as PlanInput;
        let planId: string;
        if (p.id.kind === 'fresh' || issuedIds.length === 0) {
          planId = `fz-${seed}-${i}`;
          issuedIds.push(planId);
        } else if (p.id.kind === 'repeat')
          planId = issuedIds[p.id.pick % issuedIds.length] as string;
        else planId = p.id.raw;
        const ts =
          p.fields.timestamp === 'now'
            ? String(Date.now())
            : p.fields.timestamp === 'old'
              ? String(Math.floor(Date.now() / 1000) - 3600)
              : p.fields.timestamp;
        const fields = { plan_id: planId, ...p.fields, timestamp: ts };
        const pid = (await redis.xadd(keys.applyPlanStream, '*', ...flat(fields))) as string;
        planEntries.push({
          id: pid,
          fields: Object.fromEntries(
            Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined),
          ),
        });
        const r = { src: 'fuzz', ...results[i] } as Record<string, string | undefined>;
        const rid = (await redis.xadd(keys.applyResultStream, '*', ...flat(r))) as string;
        resultEntries.push({
          id: rid,
          fields: Object.fromEntries(
            Object.entries(r).filter((e): e is [string, string] => e[1] !== undefined),
          ),
        });
      }
      await until(
        async () =>
          (await drained(redis, keys.applyPlanStream, PLAN_GROUP)) &&
          (await drained(redis, keys.applyResultStream, RESULT_GROUP)),
        60_000,
        50,
      );
    } finally {
      await brain.stop();
    }

    // Plans: an independent oracle — valid id after trim, decision EXECUTE.
    const firstExecute = new Map<string, string>();
    let badPlans = 0;
    for (const e of planEntries) {
      const id = e.fields.plan_id?.trim();
      if (!isPlanId(id)) {
        badPlans += 1;
        continue;
      }
      const execute = (e.fields.decision ?? '').trim().toUpperCase() === 'EXECUTE';
      if (execute && !firstExecute.has(id)) firstExecute.set(id, e.id);
    }
    for (const [planId, entryId] of firstExecute) {
      const permit = decodePermit(await redis.get(keys.permitP33(planId)));
      expect(
        permit.kind === 'allow' || permit.kind === 'deny',
        `permit for ${planId} (seed ${seed})`,
      ).toBe(true);
      const marker = await redis.get(keys.planSeen(planId));
      expect(marker?.endsWith(` ${entryId}`), `${planId} answered for its first entry`).toBe(true);
    }
    const permitKeys = await redis.keys(`${keys.prefix}:permit:p33:*`);
    expect(permitKeys.length).toBe(firstExecute.size);
    const issued = await counterValue(brain.metrics, 'p33_permit_total');
    expect(issued, 'one permit per plan id, duplicates never re-issued').toBe(firstExecute.size);
    expect(await counterValue(brain.metrics, 'p33_bad_input_total', { stream: 'apply.plan' })).toBe(
      badPlans,
    );

    // Results: each fill once, in stream order, through the one codec.
    const expected = new Map<string, Amount>(
      Object.entries(start).map(([s, a]) => [s, new Decimal(a)]),
    );
    const fillsPerSymbol = new Map<string, number>();
    let badResults = 0;
    for (const e of resultEntries) {
      const parsed = parseApplyResult(e.id, e.fields);
      if (parsed.kind === 'malformed') badResults += 1;
      if (parsed.kind !== 'fill') continue;
      const { symbol, signedQty, reduceOnly } = parsed.fill;
      const before = expected.get(symbol);
      if (before === undefined) continue;
      expected.set(symbol, applyFill(before, signedQty, reduceOnly));
      fillsPerSymbol.set(symbol, (fillsPerSymbol.get(symbol) ?? 0) + 1);
    }
    for (const [symbol, amount] of expected) {
      const read = decodeLedger(
        await redis.hgetall(keys.ledger(symbol)),
        epsilonFor(new Decimal('0.001')),
      );
      expect(read.kind).toBe('ok');
      if (read.kind !== 'ok') continue;
      expect(read.ledger.amount.toFixed(), `${symbol} ledger (seed ${seed})`).toBe(
        amount.toFixed(),
      );
      expect(read.ledger.version).toBe(1 + (fillsPerSymbol.get(symbol) ?? 0));
    }
    const appliedMarkers = (await redis.keys(`${keys.prefix}:posguard:result:applied:*`)).length;
    const fills = [...fillsPerSymbol.values()].reduce((a, b) => a + b, 0);
    expect(appliedMarkers).toBe(fills);
    expect(
      await counterValue(brain.metrics, 'p33_bad_input_total', { stream: 'apply.result' }),
    ).toBe(badResults);
    expect(parseAmount('1')).not.toBeNull();

    recordFigure('stream-fuzz', {
      fault: 'random/malformed apply.plan and apply.result entries (real streams, real brain)',
      test: 'test/reliability/stream-fuzz.test.ts › every valid EXECUTE plan gets exactly one permit…',
      iterations: planEntries.length + resultEntries.length,
      observed: `${firstExecute.size} plan ids → ${permitKeys.length} permits (first entry each, duplicates acked without a 2nd permit); ${badPlans} bad plans + ${badResults} bad results counted; ${fills} fills applied exactly once; 0 pending`,
      lost: 0,
      extra: { seed },
    });
  }, 120_000);
});

describe('keys of the wrong type (LESSONS #18)', () => {
  it('a permit/hold written as a hash, a ledger as a string, a snapshot as a list: deny or hold, never a crash', async () => {
    const { redis, keys } = t;
    const symbols = ['AAAUSDT', 'BBBUSDT', 'CCCUSDT', 'DDDUSDT'];
    for (const s of symbols) await seedSymbol(redis, keys, s, '1');
    await redis.set(keys.reconcileHeartbeat, '{}', 'PX', 600_000);
    await redis.del(keys.ledger('AAAUSDT'));
    await redis.set(keys.ledger('AAAUSDT'), '1.0');
    await redis.hset(keys.hold('BBBUSDT'), 'by', 'bypass-script');
    await redis.del(keys.snapshot('CCCUSDT'));
    await redis.rpush(keys.snapshot('CCCUSDT'), '1');
    await redis.hset(keys.permitP33('wt-D'), 'allow', 'true');
    await redis.set(keys.symbolLotSize('DDDUSDT'), 'step=0.001');

    const brain = startBrainPieces({ url: t.url, keys, allowlist: symbols });
    await brain.ready();
    const logs = captureLogs('info');
    const engine = new ReconcileEngine({
      redis,
      keys,
      reconcile: loadConfig({ P34_ALLOWLIST: symbols.join(',') }).reconcile,
      ledger: { ledgerTtlSec: 86400 },
      clock: { nowMs: () => Date.now() },
      logger: logs.logger,
      metrics: createReconcileMetrics(),
      term: await testTerm(redis, keys, 'reconcile', 'engine'),
      instanceId: 'test:engine',
    });
    try {
      const plan = (id: string, symbol: string): Promise<string | null> =>
        redis.xadd(
          keys.applyPlanStream,
          '*',
          'plan_id',
          id,
          'symbol',
          symbol,
          'decision',
          'EXECUTE',
          'action',
          'FULL_CLOSE',
          'reduceOnly',
          'true',
        );
      await plan('wt-A', 'AAAUSDT');
      await plan('wt-B', 'BBBUSDT');
      await plan('wt-C', 'CCCUSDT');
      await plan('wt-D', 'DDDUSDT');
      await redis.xadd(
        keys.applyResultStream,
        '*',
        'symbol',
        'AAAUSDT',
        'executed',
        'true',
        'filled_qty',
        '0.5',
        'side',
        'SELL',
      );
      await until(
        async () =>
          (await drained(redis, keys.applyPlanStream, PLAN_GROUP)) &&
          (await drained(redis, keys.applyResultStream, RESULT_GROUP)),
      );
      const report = await engine.runOnce();
      const reasonOf = async (id: string): Promise<string> => {
        const read = decodePermit(await redis.get(keys.permitP33(id)));
        return read.kind === 'deny' ? read.permit.reason : read.kind;
      };
      expect(await reasonOf('wt-A')).toBe('ledger_invalid');
      expect(await reasonOf('wt-B')).toBe('reconcile_hold_active');
      expect(await reasonOf('wt-C')).toBe('no_exchange_snapshot');
      // The hash squatting on the permit key is refused before anything is written (issue 10
      // item 7): no permit, never read as an allow; the plan is acked (drained above) and
      // counted as bad input, and the gate refuses it (wrong_type).
      expect(await redis.type(keys.permitP33('wt-D'))).toBe('hash');
      expect(await redis.exists(keys.planSeen('wt-D'))).toBe(0);
      expect(await redis.get(keys.ledger('AAAUSDT'))).toBe('1.0');
      const bySymbol = new Map(report.outcomes.map((o) => [o.decision.symbol, o.decision]));
      expect(bySymbol.get('AAAUSDT')?.status).toBe('MANUAL_REQUIRED');
      expect(bySymbol.get('CCCUSDT')?.status).toBe('HOLD');
      expect(await redis.exists(keys.hold('AAAUSDT'))).toBe(1);
      expect(await redis.exists(keys.hold('CCCUSDT'))).toBe(1);
      expect(await redis.type(keys.hold('BBBUSDT'))).toBe('hash');
      recordFigure('stream-fuzz', {
        fault: 'keys of the wrong type (permit/hold as hash, ledger as string, snapshot as list)',
        test: 'test/reliability/stream-fuzz.test.ts › keys of the wrong type…',
        iterations: 4,
        observed:
          'permits deny ledger_invalid / reconcile_hold_active / no_exchange_snapshot; a squatted permit key is refused (nothing written, plan acked, counted); engine holds; fill on a string ledger acked unapplied; no crash',
        lost: 0,
      });
    } finally {
      await brain.stop();
    }
  });
});
