/** Decisions the commit-script tests commit: repairs from a fill and from an unconfirmed order. */
import { expect } from 'vitest';
import { epsilonFor } from '../../src/domain/amount.js';
import { parseApplyResult } from '../../src/domain/apply-result.js';
import { type Decision, decide } from '../../src/domain/drift.js';
import { decodeLedger } from '../../src/domain/ledger.js';
import { decodeSnapshot } from '../../src/domain/snapshot.js';
import { BTC_LOT, DRIFT_CONFIG, T0, fill, flatResult, snapshotFields } from './fixtures.js';

export const SYM = 'BTCUSDT';
export const EPS = epsilonFor(BTC_LOT.stepSize);
export const SETTINGS = {
  nowMs: T0,
  holdTtlMs: 300_000,
  ledgerTtlMs: 86_400_000,
  evidenceTtlMs: 600_000,
};
/** The evidence entry of both repairs. */
export const ENTRY = `${T0 - 5000}-0`;

/** A repair from one confirmed fill (order `ord-plan-1`): the exchange at 0.1. */
export function repairDecision(ledgerHash: Record<string, string>): Decision {
  const d = decide({
    symbol: SYM,
    snapshot: decodeSnapshot(snapshotFields('0.1', T0 - 500)),
    ledger: decodeLedger(ledgerHash, EPS),
    lotSize: BTC_LOT,
    evidence: [fill(ENTRY, flatResult(SYM, 'SELL', '0.001', T0 - 5000))],
    usedEvidence: new Set(),
    nowMs: T0,
    config: DRIFT_CONFIG,
  });
  expect(d.action).toBe('auto_repair');
  return d;
}

/** A repair whose evidence is an order whose fill is not confirmed (a Binance ACK). */
export function orderRepairDecision(
  ledgerHash: Record<string, string>,
  orderId = '11986721004',
  exchange = '0.1',
): Decision {
  const parsed = parseApplyResult(ENTRY, {
    plan_id: 'plan-ack',
    symbol: SYM,
    executed: 'True',
    side: 'SELL',
    filled_qty: '0',
    close_qty: '0.001',
    order_id: orderId,
    ts_ms: String(T0 - 5000),
  });
  if (parsed.kind !== 'unconfirmed_order') throw new Error(`not an order: ${parsed.kind}`);
  const d = decide({
    symbol: SYM,
    snapshot: decodeSnapshot(snapshotFields(exchange, T0 - 500)),
    ledger: decodeLedger(ledgerHash, EPS),
    lotSize: BTC_LOT,
    evidence: [parsed.order],
    usedEvidence: new Set(),
    nowMs: T0,
    config: DRIFT_CONFIG,
  });
  expect(d).toMatchObject({ action: 'auto_repair', evidence: { kind: 'unconfirmed_order' } });
  return d;
}
