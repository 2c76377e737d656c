/**
 * Key injection: symbols and plan ids arrive from streams written by other systems. Before
 * any of them becomes part of a key name it is validated (SPEC preamble), so plans and
 * results carrying `BTCUSDT:*`, `../x`, spaces, CR/LF or unicode create no key outside
 * the documented shapes. The whole keyspace of a private Redis is SCANned before/after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { PLAN_GROUP } from '../../src/brain/plan-evaluator.js';
import { RESULT_GROUP } from '../../src/brain/ledger-updater.js';
import { Decimal } from '../../src/domain/amount.js';
import { encodeLedger } from '../../src/domain/ledger.js';
import { encodeLotSize } from '../../src/domain/lot-size.js';
import { encodeSnapshot } from '../../src/domain/snapshot.js';
import { loadConfig } from '../../src/config/config.js';
import { ReconcileEngine } from '../../src/reconcile/engine.js';
import { createReconcileMetrics } from '../../src/reconcile/metrics.js';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/dev/redis-server.js';
import { buildKeys } from '../../src/redis/keys.js';
import { counterValue, drained, startBrainPieces, until } from '../helpers/reliability-brain.js';
import { captureLogs } from '../helpers/logs.js';
import { recordFigure } from '../helpers/reliability-figures.js';
import { testTerm } from '../helpers/terms.js';

const PREFIX = 'kinj';
const PLAN_ID = /^[A-Za-z0-9:_.-]{1,128}$/;
const keys = buildKeys(PREFIX);

const HOSTILE = [
  'BTCUSDT:*',
  '*',
  '../../etc/passwd',
  '..\\x',
  'BTC USDT',
  'BTCUSDT\r\nFLUSHALL',
  'BTCUSDT\n*',
  'btc{usdt}',
  'ＢＴＣＵＳＤＴ',
  'BTCUSDT\u0000',
  'A'.repeat(200),
  '',
  '[a-z]*',
  'position:ledger:ETHUSDT',
];

/** Every key shape posguard may create under the prefix (SPEC §1 and keys.ts). */
const ALLOWED = new RegExp(
  `^${PREFIX}:(` +
    [
      'position:(snapshot|ledger):[A-Z0-9]{2,32}',
      'stream:(apply\\.plan|apply\\.result|reconcile\\.events)',
      'permit:p33:[A-Za-z0-9:_.\\-]{1,128}',
      'reconcile:(hold|state):[A-Z0-9]{2,32}',
      'reconcile:heartbeat',
      'posguard:symbol:[A-Z0-9]{2,32}',
      'posguard:plan:seen:[A-Za-z0-9:_.\\-]{1,128}',
      'posguard:(result:applied|evidence:used):\\d+-\\d+',
      'posguard:hold:owner:[A-Z0-9]{2,32}',
      'posguard:brain:heartbeat',
      'posguard:instance:[a-z][a-z0-9-]{0,31}:[A-Za-z0-9:_.\\-]{1,128}',
      'posguard:(lease|epoch|fence):(reconcile|brain-poller)',
    ].join('|') +
    ')$',
);

let server: EmbeddedRedis;
let redis: Redis;

async function scanAll(): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 1000);
    found.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return found.sort();
}

beforeAll(async () => {
  server = await startEmbeddedRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

async function seed(): Promise<void> {
  const now = Date.now();
  await redis.hset(
    keys.snapshot('BTCUSDT'),
    encodeSnapshot({
      amount: new Decimal('0.05'),
      side: 'LONG',
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
    keys.ledger('BTCUSDT'),
    encodeLedger({
      amount: new Decimal('0.05'),
      source: 'p34_init',
      nowMs: now,
      previousVersion: 0,
    }),
  );
  await redis.hset(
    keys.symbolLotSize('BTCUSDT'),
    encodeLotSize(
      { stepSize: new Decimal('0.001'), minQty: new Decimal('0.001'), maxQty: null },
      now,
    ),
  );
}

describe('key injection through stream fields', () => {
  it('hostile symbols and plan ids create no key outside the documented shapes', async () => {
    await seed();
    const before = await scanAll();
    const brain = startBrainPieces({ url: server.url, keys, allowlist: ['BTCUSDT'] });
    await brain.ready();
    const logs = captureLogs('info');
    const engine = new ReconcileEngine({
      redis,
      keys,
      reconcile: loadConfig({ P34_ALLOWLIST: 'BTCUSDT' }).reconcile,
      ledger: { ledgerTtlSec: 86400 },
      clock: { nowMs: () => Date.now() },
      logger: logs.logger,
      metrics: createReconcileMetrics(),
      term: await testTerm(redis, keys, 'reconcile', 'engine'),
      instanceId: 'test:engine',
    });
    let entries = 0;
    let validPlanIds = 0;
    try {
      for (const [i, hostile] of HOSTILE.entries()) {
        // Hostile plan id (valid symbol), hostile symbol (valid plan id), hostile everything.
        await redis.xadd(
          keys.applyPlanStream,
          '*',
          'plan_id',
          hostile,
          'symbol',
          'BTCUSDT',
          'decision',
          'EXECUTE',
          'action',
          'FULL_CLOSE',
          'reduceOnly',
          'true',
        );
        await redis.xadd(
          keys.applyPlanStream,
          '*',
          'plan_id',
          `ok-${i}`,
          'symbol',
          hostile,
          'decision',
          'EXECUTE',
          'action',
          'FULL_CLOSE',
          'reduceOnly',
          'true',
        );
        await redis.xadd(
          keys.applyPlanStream,
          '*',
          'plan_id',
          `${hostile}:*`,
          'symbol',
          hostile,
          'decision',
          'EXECUTE',
        );
        await redis.xadd(
          keys.applyResultStream,
          '*',
          'symbol',
          hostile,
          'executed',
          'true',
          'filled_qty',
          '0.001',
          'side',
          'SELL',
          'plan_id',
          hostile,
          'order_id',
          hostile,
        );
        await redis.xadd(
          keys.applyResultStream,
          '*',
          'executed',
          'True',
          'steps_results',
          JSON.stringify([
            { symbol: hostile, executed_qty: '0.001', side: 'SELL', order_id: hostile },
          ]),
        );
        entries += 5;
        validPlanIds += 1;
      }
      await until(
        async () =>
          (await drained(redis, keys.applyPlanStream, PLAN_GROUP)) &&
          (await drained(redis, keys.applyResultStream, RESULT_GROUP)),
      );
      await engine.runOnce();
      await engine.runOnce();
    } finally {
      await brain.stop();
    }
    const after = await scanAll();
    const created = after.filter((k) => !before.includes(k));
    const unexpected = after.filter((k) => !ALLOWED.test(k));
    expect(unexpected).toEqual([]);
    for (const key of created) {
      // Printable ASCII only (no NUL, CR/LF or unicode), and no glob or path characters.
      expect(key).toMatch(/^[\x20-\x7e]+$/);
      expect(key).not.toMatch(/[*\s/\\[\]{}]/);
    }
    // Every valid plan id got its permit (a deny for the hostile symbol); no other permit exists.
    // A hostile-looking id that is a legal plan id (`position:ledger:ETHUSDT`) stays inside
    // the permit namespace: it can never alias a ledger or any other key.
    const legalHostile = HOSTILE.filter((h) => PLAN_ID.test(h));
    expect(legalHostile).toEqual(['position:ledger:ETHUSDT']);
    const permits = after.filter((k) => k.startsWith(`${PREFIX}:permit:p33:`));
    expect(permits.sort()).toEqual(
      [...HOSTILE.map((_, i) => `ok-${i}`), ...legalHostile].map((id) => keys.permitP33(id)).sort(),
    );
    for (const [i] of HOSTILE.entries()) {
      const permit = JSON.parse((await redis.get(keys.permitP33(`ok-${i}`))) as string) as {
        allow: boolean;
        reason: string;
      };
      expect(permit.allow).toBe(false);
      expect(permit.reason).toBe('symbol_not_allowed');
    }
    expect(await redis.type(keys.ledger('ETHUSDT'))).toBe('none');
    // Hostile plan ids are counted as bad input, never answered under a mangled key.
    const badPlans = await counterValue(brain.metrics, 'p33_bad_input_total', {
      stream: 'apply.plan',
    });
    expect(badPlans).toBe(2 * HOSTILE.length - legalHostile.length);
    const badResults = await counterValue(brain.metrics, 'p33_bad_input_total', {
      stream: 'apply.result',
    });
    expect(badResults).toBeGreaterThanOrEqual(2 * HOSTILE.length - 2);
    // The one real ledger was not touched by any hostile result.
    expect(await redis.hget(keys.ledger('BTCUSDT'), 'ledger_amt')).toBe('0.05');
    recordFigure('key-injection', {
      fault: 'key injection via stream symbols/plan ids',
      test: 'test/security/key-injection.test.ts › hostile symbols and plan ids create no key outside the documented shapes',
      iterations: entries,
      observed: `${created.length} keys created, all of documented shapes; ${permits.length} permits (valid plan ids only; the ${HOSTILE.length} with a hostile symbol deny symbol_not_allowed); ${badPlans} bad plans and ${badResults} bad results counted`,
      lost: 0,
      extra: { validPlanIds },
    });
  });

  it('the key builder refuses every hostile name (no caller can build one by mistake)', () => {
    for (const hostile of HOSTILE) {
      expect(() => keys.ledger(hostile)).toThrow();
      expect(() => keys.hold(hostile)).toThrow();
    }
    for (const hostile of HOSTILE.filter((h) => !PLAN_ID.test(h)))
      expect(() => keys.permitP33(hostile)).toThrow();
    expect(() => keys.resultApplied('1-1:*')).toThrow();
  });
});
