/**
 * Property (STYLE.md): every EXECUTE plan with a valid id gets exactly one permit —
 * whatever the mix of decisions, bad ids, repeated plan ids, batch boundaries and
 * redeliveries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { PLAN_GROUP, PlanEvaluator } from '../../src/brain/plan-evaluator.js';
import { createBrainMetrics } from '../../src/brain/metrics.js';
import { ensureGroup, readGroup, type StreamEntry } from '../../src/brain/stream-group.js';
import { silentLogger } from '../../src/observability/logger.js';
import { buildKeys } from '../../src/redis/keys.js';
import { SYSTEM_CLOCK, TEST_RULES, seedHealthy } from './helpers.js';
import { assertProperty } from '../helpers/property.js';

let t: TestRedis;
beforeAll(() => {
  t = openTestRedis('po');
});
afterAll(() => t.close());

const entryArb = fc.record({
  planId: fc.oneof(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), fc.constantFrom('bad id', '')),
  decision: fc.constantFrom('EXECUTE', 'EXECUTE', 'EXECUTE', 'SKIP', ''),
  symbol: fc.constantFrom('BTCUSDT', 'ETHUSDT', 'NOPEUSDT'),
  action: fc.constantFrom('FULL_CLOSE', 'PARTIAL_50', 'WHATEVER'),
});

describe('exactly one permit per EXECUTE plan id', () => {
  it('holds over arbitrary entry mixes, batch splits and redeliveries', async () => {
    let run = 0;
    await assertProperty(
      fc.asyncProperty(
        fc.array(entryArb, { minLength: 1, maxLength: 25 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        async (specs, splits, redeliver) => {
          run += 1;
          const keys = buildKeys(`${t.prefix}r${run}`);
          await seedHealthy(t.redis, keys, 'BTCUSDT', '0.5');
          await seedHealthy(t.redis, keys, 'ETHUSDT', '-3');
          await ensureGroup(t.redis, keys.applyPlanStream, PLAN_GROUP, '0');
          for (const s of specs) {
            await t.redis.xadd(
              keys.applyPlanStream,
              '*',
              'plan_id',
              s.planId,
              'decision',
              s.decision,
              'symbol',
              s.symbol,
              'action',
              s.action,
            );
          }
          const metrics = createBrainMetrics();
          const evaluator = new PlanEvaluator({
            reader: t.redis,
            redis: t.redis,
            keys,
            consumer: 'c',
            allowlist: ['BTCUSDT', 'ETHUSDT'],
            rules: { ...TEST_RULES, cooldownSec: 0 },
            permitTtlSec: 60,
            planSeenTtlSec: 600,
            clock: SYSTEM_CLOCK,
            metrics,
            logger: silentLogger(),
          });
          const all: StreamEntry[] = await readGroup(t.redis, {
            stream: keys.applyPlanStream,
            group: PLAN_GROUP,
            consumer: 'c',
            count: 1000,
            id: '>',
          });
          let at = 0;
          for (let i = 0; at < all.length; i += 1) {
            const size = splits[i % splits.length]!;
            await evaluator.handleBatch(all.slice(at, at + size));
            at += size;
          }
          for (const index of redeliver) {
            const entry = all[index % all.length]!;
            // The Apply Layer consumed the permit, then the entry comes back.
            const planId = entry.fields?.plan_id ?? '';
            if (/^[a-f]$/.test(planId)) await t.redis.del(keys.permitP33(planId));
            await evaluator.handleBatch([entry]);
          }
          const expected = new Set<string>(
            specs
              .filter((s) => s.decision === 'EXECUTE' && /^[a-f]$/.test(s.planId))
              .map((s) => s.planId),
          );
          const issued =
            (await metrics.registry.getSingleMetric('p33_permit_total')?.get())?.values.reduce(
              (sum, v) => sum + v.value,
              0,
            ) ?? 0;
          expect(issued).toBe(expected.size);
          for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) {
            expect(await t.redis.exists(keys.planSeen(id)), id).toBe(expected.has(id) ? 1 : 0);
          }
          expect(
            Number(((await t.redis.xpending(keys.applyPlanStream, PLAN_GROUP)) as [number])[0]),
          ).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });
});
