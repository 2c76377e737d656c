/**
 * Redis-side helpers for the brain's integration tests: healthy state per symbol, plan
 * and result entries, and polling waits with generous deadlines (never timing asserts).
 */
import { Redis } from 'ioredis';
import { Decimal } from '../../src/domain/amount.js';
import { encodeLedger } from '../../src/domain/ledger.js';
import { encodeLotSize } from '../../src/domain/lot-size.js';
import { encodeSnapshot } from '../../src/domain/snapshot.js';
import type { Keys } from '../../src/redis/keys.js';
import type { RuleConfig } from '../../src/domain/permit-rules.js';
import { systemClock } from '../../src/runtime/clock.js';
import { waitFor } from '../helpers/wait.js';

/** The services' own system clock (src/runtime/clock.ts). */
export const SYSTEM_CLOCK = systemClock;
/** The shared waits (test/helpers/wait.ts). */
export { sleep, waitFor } from '../helpers/wait.js';

export const TEST_RULES: RuleConfig = {
  staleThresholdSec: 10,
  cooldownSec: 15,
  qtyTolerancePct: 1,
  planMaxAgeSec: 30,
  requireReconcile: true,
};

export async function writeSnapshot(
  redis: Redis,
  keys: Keys,
  symbol: string,
  amount: string,
  ageSec = 1,
): Promise<void> {
  await redis.hset(
    keys.snapshot(symbol),
    encodeSnapshot({
      amount: new Decimal(amount),
      side: 'FLAT',
      entryPrice: null,
      markPrice: null,
      leverage: '10',
      unrealizedPnl: null,
      takenMs: Date.now() - ageSec * 1000,
      exchangeUpdateMs: null,
      source: 'rest',
    }),
  );
}

export async function writeLedger(
  redis: Redis,
  keys: Keys,
  symbol: string,
  amount: string,
  options: { lastOrderAgoSec?: number; previousVersion?: number } = {},
): Promise<void> {
  const order =
    options.lastOrderAgoSec === undefined
      ? {}
      : { lastOrderTimeMs: Date.now() - options.lastOrderAgoSec * 1000 };
  await redis.hset(
    keys.ledger(symbol),
    encodeLedger({
      amount: new Decimal(amount),
      source: 'p34_init',
      nowMs: Date.now(),
      previousVersion: options.previousVersion ?? 0,
      order,
    }),
  );
}

export async function writeLotSize(
  redis: Redis,
  keys: Keys,
  symbol: string,
  step = '0.001',
  min = '0.001',
): Promise<void> {
  await redis.hset(
    keys.symbolLotSize(symbol),
    encodeLotSize(
      { stepSize: new Decimal(step), minQty: new Decimal(min), maxQty: null },
      Date.now(),
    ),
  );
}

/** Snapshot, ledger, lot size and the reconcile heartbeat of a healthy position. */
export async function seedHealthy(
  redis: Redis,
  keys: Keys,
  symbol: string,
  amount: string,
): Promise<void> {
  await writeSnapshot(redis, keys, symbol, amount);
  await writeLedger(redis, keys, symbol, amount);
  await writeLotSize(redis, keys, symbol);
  await redis.set(keys.reconcileHeartbeat, JSON.stringify({ ts_ms: Date.now() }), 'PX', 600_000);
}

export function planFields(
  planId: string,
  symbol: string,
  extra: Record<string, string> = {},
): string[] {
  const fields: Record<string, string> = {
    plan_id: planId,
    symbol,
    decision: 'EXECUTE',
    action: 'CLOSE_PARTIAL_75',
    reduceOnly: 'true',
    ...extra,
  };
  return Object.entries(fields).flat();
}

export async function addPlan(
  redis: Redis,
  keys: Keys,
  planId: string,
  symbol: string,
  extra: Record<string, string> = {},
): Promise<string> {
  return (await redis.xadd(
    keys.applyPlanStream,
    '*',
    ...planFields(planId, symbol, extra),
  )) as string;
}

export async function waitForPermit(
  redis: Redis,
  keys: Keys,
  planId: string,
  timeoutMs = 10_000,
): Promise<Record<string, unknown>> {
  const raw = await waitFor(() => redis.get(keys.permitP33(planId)), timeoutMs);
  return JSON.parse(raw) as Record<string, unknown>;
}

export async function pendingCount(redis: Redis, stream: string, group: string): Promise<number> {
  const summary = (await redis.xpending(stream, group)) as [number, ...unknown[]];
  return Number(summary[0]);
}
