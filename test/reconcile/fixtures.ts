/**
 * Builders for reconcile tests: snapshots, ledgers and apply.result entries written with
 * the real codecs, the way the real writers write them.
 */
import type { Redis } from 'ioredis';
import { Decimal, epsilonFor } from '../../src/domain/amount.js';
import { type Fill, parseApplyResult } from '../../src/domain/apply-result.js';
import type { DriftConfig, DriftInput } from '../../src/domain/drift.js';
import { type LedgerRead, decodeLedger, encodeLedger } from '../../src/domain/ledger.js';
import { type LotSize, encodeLotSize } from '../../src/domain/lot-size.js';
import { type SnapshotRead, decodeSnapshot, encodeSnapshot } from '../../src/domain/snapshot.js';
import type { Keys } from '../../src/redis/keys.js';

export const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
export const BTC_LOT: LotSize = {
  stepSize: new Decimal('0.001'),
  minQty: new Decimal('0.001'),
  maxQty: null,
};

export const DRIFT_CONFIG: DriftConfig = {
  exchangeFreshnessSec: 10,
  qtyDriftTolerancePct: 1,
  evidenceWindowSec: 300,
};

export function snapshotFields(amount: string, takenMs: number): Record<string, string> {
  return encodeSnapshot({
    amount: new Decimal(amount),
    side: 'FLAT',
    entryPrice: new Decimal('95000'),
    markPrice: new Decimal('96000'),
    leverage: '10',
    unrealizedPnl: null,
    takenMs,
    exchangeUpdateMs: null,
    source: 'rest',
  });
}

export function snapshotRead(amount: string, takenMs: number): SnapshotRead {
  return decodeSnapshot(snapshotFields(amount, takenMs));
}

export function ledgerFields(
  amount: string,
  writtenMs: number,
  extra: { version?: number; lastResultId?: string } = {},
): Record<string, string> {
  return encodeLedger({
    amount: new Decimal(amount),
    source: 'apply',
    nowMs: writtenMs,
    previousVersion: extra.version ?? 0,
    order: { lastResultId: extra.lastResultId ?? null },
  });
}

export function ledgerRead(
  amount: string,
  writtenMs: number,
  extra: { lastResultId?: string } = {},
): LedgerRead {
  return decodeLedger(ledgerFields(amount, writtenMs, extra), epsilonFor(BTC_LOT.stepSize));
}

/** An apply.result entry in the `executed="true"` + top-level `filled_qty` shape. */
export function flatResult(
  symbol: string,
  side: 'BUY' | 'SELL',
  qty: string,
  tsMs: number,
  planId = 'plan-1',
): Record<string, string> {
  return {
    plan_id: planId,
    symbol,
    executed: 'true',
    side,
    filled_qty: qty,
    order_id: `ord-${planId}`,
    reduceOnly: 'true',
    ts_ms: String(tsMs),
  };
}

/** The Apply Layer's other shape: `executed="True"` and a JSON `steps_results`. */
export function stepsResult(
  symbol: string,
  side: 'BUY' | 'SELL',
  qty: string,
  tsSec: number,
  planId = 'plan-2',
): Record<string, string> {
  return {
    plan_id: planId,
    symbol,
    executed: 'True',
    timestamp: String(tsSec),
    steps_results: JSON.stringify([
      { symbol, side, executed_qty: Number(qty), order_id: 777001, status: 'FILLED' },
    ]),
  };
}

export function fill(entryId: string, fields: Record<string, string>): Fill {
  const parsed = parseApplyResult(entryId, fields);
  if (parsed.kind !== 'fill') throw new Error(`fixture is not a fill: ${JSON.stringify(parsed)}`);
  return parsed.fill;
}

export function driftInput(
  over: Partial<DriftInput> & Pick<DriftInput, 'snapshot' | 'ledger'>,
): DriftInput {
  return {
    symbol: 'BTCUSDT',
    lotSize: BTC_LOT,
    evidence: [],
    usedEvidence: new Set(),
    nowMs: T0,
    config: DRIFT_CONFIG,
    ...over,
  };
}

/** Writes a snapshot, a ledger hash and a lot size like the brain does. */
export async function writeSymbol(
  redis: Redis,
  keys: Keys,
  symbol: string,
  state: {
    snapshot?: Record<string, string>;
    ledger?: Record<string, string>;
    lot?: LotSize | null;
  },
): Promise<void> {
  if (state.snapshot) await redis.hset(keys.snapshot(symbol), state.snapshot);
  if (state.ledger) await redis.hset(keys.ledger(symbol), state.ledger);
  if (state.lot !== null)
    await redis.hset(keys.symbolLotSize(symbol), encodeLotSize(state.lot ?? BTC_LOT, T0));
}

/** XADDs an apply.result entry with an explicit id (ms-seq) and returns the id. */
export async function addResult(
  redis: Redis,
  keys: Keys,
  id: string,
  fields: Record<string, string>,
): Promise<string> {
  const flat = Object.entries(fields).flat();
  const added = await redis.xadd(keys.applyResultStream, id, ...flat);
  if (added === null) throw new Error('XADD returned null');
  return added;
}

/**
 * A drift one fill explains (SPEC §7, an auto repair): the exchange at 0.1 (snapshot taken
 * at `snapshotMs`), the ledger at 0.101 (written a minute before T0), and the SELL 0.001
 * fill that closes the gap in apply.result at `fillMs`. Returns the fill's entry id.
 */
export async function writeRepairableDrift(
  redis: Redis,
  keys: Keys,
  symbol: string,
  at: { snapshotMs: number; fillMs: number },
): Promise<string> {
  const entry = await addResult(
    redis,
    keys,
    `${at.fillMs}-0`,
    flatResult(symbol, 'SELL', '0.001', at.fillMs),
  );
  await writeSymbol(redis, keys, symbol, {
    snapshot: snapshotFields('0.1', at.snapshotMs),
    ledger: ledgerFields('0.101', T0 - 60_000),
  });
  return entry;
}
