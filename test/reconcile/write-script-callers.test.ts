/**
 * The callers of the write scripts after a key-type refusal (issue 10 item 7): the CLI
 * wrappers name the refused key and write nothing; the brain acks a plan refused for a
 * squatted key, counts it, and still answers the plans behind it. Real Redis, real brain.
 */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBrainMetrics } from '../../src/brain/metrics.js';
import { PLAN_GROUP, PlanEvaluator } from '../../src/brain/plan-evaluator.js';
import { setManualHold } from '../../src/operator/manual-hold.js';
import { writeManualLedger } from '../../src/operator/manual-ledger.js';
import { Decimal } from '../../src/domain/amount.js';
import { PosguardError } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import {
  SYSTEM_CLOCK,
  TEST_RULES,
  addPlan,
  pendingCount,
  seedHealthy,
  waitFor,
  waitForPermit,
} from '../brain/helpers.js';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import { T0 } from './fixtures.js';
import { keyImage } from './key-image.js';

const SYM = 'BTCUSDT';

describe('callers of the write scripts after a key-type refusal', () => {
  let t: TestRedis;
  beforeEach(() => {
    t = openTestRedis('wc');
  });
  afterEach(() => t.close());

  it('the brain acks a plan refused for a squatted key, counts it, and still answers the plans behind it', async () => {
    const reader = new Redis(t.url, { maxRetriesPerRequest: 1 });
    const metrics = createBrainMetrics();
    const brain = new PlanEvaluator({
      reader,
      redis: t.redis,
      keys: t.keys,
      consumer: 'brain-wt',
      allowlist: [SYM],
      rules: TEST_RULES,
      permitTtlSec: 60,
      planSeenTtlSec: 3600,
      clock: SYSTEM_CLOCK,
      metrics,
      logger: silentLogger(),
      blockMs: 100,
    });
    try {
      await seedHealthy(t.redis, t.keys, SYM, '0.038');
      await t.redis.hset(t.keys.permitP33('squat-1'), 'allow', 'true'); // a bypass script
      brain.start();
      await addPlan(t.redis, t.keys, 'squat-1', SYM);
      await addPlan(t.redis, t.keys, 'after-1', SYM);
      expect(await waitForPermit(t.redis, t.keys, 'after-1')).toMatchObject({ plan_id: 'after-1' });
      await waitFor(async () =>
        (await pendingCount(t.redis, t.keys.applyPlanStream, PLAN_GROUP)) === 0 ? true : null,
      );
      expect(await t.redis.hgetall(t.keys.permitP33('squat-1'))).toEqual({ allow: 'true' });
      expect(await t.redis.exists(t.keys.planSeen('squat-1'))).toBe(0);
      const bad = await metrics.registry.getSingleMetric('p33_bad_input_total')?.get();
      expect(bad?.values.find((v) => v.labels.stream === 'apply.plan')?.value).toBe(1);
    } finally {
      await brain.stop();
      reader.disconnect();
    }
  });

  it('the CLI wrappers name the refused key — the events stream, not the ledger — and write nothing', async () => {
    await t.redis.hset(t.keys.ledger(SYM), { ledger_amt: '0.05', version: '3' });
    await t.redis.set(t.keys.reconcileEventsStream, 'not a stream');
    const before = await keyImage(t);
    const ledgerError = await writeManualLedger(t.redis, t.keys, {
      symbol: SYM,
      reason: 'r',
      operator: 'op',
      clock: { nowMs: () => T0 },
      ledgerTtlSec: 60,
      target: () =>
        Promise.resolve({ amount: new Decimal('0.062'), event: 'MANUAL_LEDGER_SET', details: {} }),
    }).catch((e: unknown) => e);
    expect(ledgerError).toBeInstanceOf(PosguardError);
    expect((ledgerError as PosguardError).message).toMatch(
      new RegExp(`^${t.keys.reconcileEventsStream} holds a string`),
    );
    const holdError = await setManualHold(
      t.redis,
      t.keys,
      { symbol: SYM, nowMs: T0, reason: 'r', operator: 'op' },
      60_000,
    ).catch((e: unknown) => e);
    expect((holdError as PosguardError).message).toMatch(
      new RegExp(`^${t.keys.reconcileEventsStream} holds a string`),
    );
    expect(await keyImage(t)).toEqual(before);
  });
});
