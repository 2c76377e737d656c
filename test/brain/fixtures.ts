/**
 * Builders for rule inputs, going through the real codecs (encode → decode) so tests
 * exercise the same shapes Redis holds.
 */
import { Decimal, epsilonFor } from '../../src/domain/amount.js';
import { type LedgerRead, decodeLedger, encodeLedger } from '../../src/domain/ledger.js';
import type { LotSize } from '../../src/domain/lot-size.js';
import { type Plan, parsePlan } from '../../src/domain/plan.js';
import type { RuleConfig, RuleInputs } from '../../src/domain/permit-rules.js';
import { type SnapshotRead, decodeSnapshot, encodeSnapshot } from '../../src/domain/snapshot.js';

export const NOW_MS = 1_737_672_000_000;

export const RULES: RuleConfig = {
  staleThresholdSec: 10,
  cooldownSec: 15,
  qtyTolerancePct: 1,
  planMaxAgeSec: 30,
  requireReconcile: true,
};

export function lot(step = '0.001', min = '0.001', max: string | null = null): LotSize {
  return {
    stepSize: new Decimal(step),
    minQty: new Decimal(min),
    maxQty: max === null ? null : new Decimal(max),
  };
}

export function plan(fields: Record<string, string> = {}, entryId = `${NOW_MS - 100}-0`): Plan {
  const parsed = parsePlan(entryId, {
    plan_id: 'plan-1',
    symbol: 'BTCUSDT',
    decision: 'EXECUTE',
    action: 'CLOSE_PARTIAL_75',
    reduceOnly: 'true',
    ...fields,
  });
  if (parsed.kind !== 'execute') throw new Error(`fixture plan is ${parsed.kind}`);
  return parsed.plan;
}

export function snapshot(amount: string, ageSec = 2, nowMs = NOW_MS): SnapshotRead {
  return decodeSnapshot(
    encodeSnapshot({
      amount: new Decimal(amount),
      side: 'FLAT',
      entryPrice: null,
      markPrice: null,
      leverage: null,
      unrealizedPnl: null,
      takenMs: nowMs - ageSec * 1000,
      exchangeUpdateMs: null,
      source: 'rest',
    }),
  );
}

export function ledger(
  amount: string,
  lastOrderAgoSec: number | null = 60,
  nowMs = NOW_MS,
): LedgerRead {
  const order =
    lastOrderAgoSec === null
      ? {}
      : { lastOrderTimeMs: nowMs - lastOrderAgoSec * 1000, lastOrderId: 'o1' };
  const hash = encodeLedger({
    amount: new Decimal(amount),
    source: 'p34_init',
    nowMs,
    previousVersion: 3,
    order,
  });
  return decodeLedger(hash, epsilonFor(new Decimal('0.001')));
}

/** A healthy position: every check passes (seed test 1). */
export function healthy(overrides: Partial<RuleInputs> = {}): RuleInputs {
  return {
    plan: plan(),
    snapshot: snapshot('0.038'),
    ledger: ledger('0.038'),
    holdPresent: false,
    reconcileHeartbeatPresent: true,
    lotSize: lot(),
    nowMs: NOW_MS,
    config: RULES,
    allowlist: new Set(['BTCUSDT', 'ETHUSDT']),
    ...overrides,
  };
}
