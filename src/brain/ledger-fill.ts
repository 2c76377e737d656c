/**
 * What one fill writes into a ledger (SPEC §4), computed from the ledger as read. Pure.
 *
 * - ok ledger: the new signed amount (BUY adds, SELL subtracts, reduce-only never crosses
 *   zero), version + 1, source `apply`, and the order fields.
 * - no amount yet: the order fields only (the reconcile engine initialises the amount
 *   from the exchange), version + 1.
 * - invalid ledger: the order fields only, so the cooldown still sees the order; the bad
 *   amount is left for reconciliation or an operator.
 *
 * Order fields never move backwards: the last order time is the later of the stored and
 * the fill's, and id fields are replaced only by a newer entry than the stored one.
 */
import type { Amount } from '../domain/amount.js';
import type { Fill } from '../domain/apply-result.js';
import { compareStreamIds } from '../domain/identifiers.js';
import {
  type LedgerOrderFields,
  type LedgerRead,
  applyFill,
  encodeLedger,
  encodeOrderFields,
} from '../domain/ledger.js';

export interface FillWrite {
  fields: Record<string, string>;
  /** The new amount, null when the ledger has none we may touch. */
  amount: Amount | null;
}

function orderUpdate(stored: LedgerOrderFields | null, fill: Fill): Partial<LedgerOrderFields> {
  const newer =
    stored?.lastResultId == null || compareStreamIds(fill.entryId, stored.lastResultId) > 0;
  const lastOrderTimeMs = Math.max(stored?.lastOrderTimeMs ?? 0, fill.timeMs);
  if (!newer) return { lastOrderTimeMs };
  return { lastOrderTimeMs, lastOrderId: fill.orderId, lastPlanId: fill.planId };
}

export function fillWrite(read: LedgerRead, fill: Fill, nowMs: number): FillWrite {
  if (read.kind === 'ok') {
    const amount = applyFill(read.ledger.amount, fill.signedQty, fill.reduceOnly);
    const fields = encodeLedger({
      amount,
      source: 'apply',
      nowMs,
      previousVersion: read.ledger.version,
      order: orderUpdate(read.ledger, fill),
    });
    return { fields, amount };
  }
  if (read.kind === 'missing') {
    const fields = encodeOrderFields(orderUpdate(read.order, fill));
    fields.version = String(read.version + 1);
    return { fields, amount: null };
  }
  const fields = encodeOrderFields(orderUpdate(null, fill));
  if (/^\d{1,15}$/.test(read.rawVersion.trim()))
    fields.version = String(Number(read.rawVersion.trim()) + 1);
  return { fields, amount: null };
}
