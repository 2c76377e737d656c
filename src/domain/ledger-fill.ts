/**
 * What one executed result writes into a ledger (SPEC §4), computed from the ledger as
 * read. Pure.
 *
 * A fill:
 * - ok ledger: the new signed amount (BUY adds, SELL subtracts; a fill the record marks
 *   reduce-only never crosses zero, any other is applied exactly), version + 1, source
 *   `apply`, and the order fields.
 * - no amount yet: the order fields only (the reconcile engine initialises the amount
 *   from the exchange), version + 1.
 * - invalid ledger: the order fields only, so the cooldown still sees the order; the bad
 *   amount is left for reconciliation or an operator.
 *
 * An order whose fill is not confirmed: the order fields only, whatever the ledger holds
 * (never a guessed amount; the engine repairs from it once the exchange shows it).
 *
 * Order fields never move backwards: the last order time is the later of the stored and
 * the fill's, and id fields are replaced only by a newer entry than the stored one.
 */
import type { Amount } from './amount.js';
import type { Fill, UnconfirmedOrder } from './apply-result.js';
import { compareStreamIds } from './identifiers.js';
import {
  type LedgerOrderFields,
  type LedgerRead,
  applyFill,
  encodeLedger,
  encodeOrderFields,
} from './ledger.js';

export interface FillWrite {
  fields: Record<string, string>;
  /** The new amount, null when the ledger has none we may touch. */
  amount: Amount | null;
}

type OrderFacts = Pick<Fill, 'entryId' | 'timeMs' | 'orderId' | 'planId'>;

function orderUpdate(
  stored: LedgerOrderFields | null,
  order: OrderFacts,
): Partial<LedgerOrderFields> {
  const newer =
    stored?.lastResultId == null || compareStreamIds(order.entryId, stored.lastResultId) > 0;
  const lastOrderTimeMs = Math.max(stored?.lastOrderTimeMs ?? 0, order.timeMs);
  if (!newer) return { lastOrderTimeMs };
  return { lastOrderTimeMs, lastOrderId: order.orderId, lastPlanId: order.planId };
}

/** The order fields and version + 1, leaving any amount exactly as it is. */
function orderFieldsOnly(read: LedgerRead, order: OrderFacts): FillWrite {
  if (read.kind === 'invalid') {
    const fields = encodeOrderFields(orderUpdate(null, order));
    if (/^\d{1,15}$/.test(read.rawVersion.trim()))
      fields.version = String(Number(read.rawVersion.trim()) + 1);
    return { fields, amount: null };
  }
  const stored = read.kind === 'ok' ? read.ledger : read.order;
  const version = read.kind === 'ok' ? read.ledger.version : read.version;
  const fields = encodeOrderFields(orderUpdate(stored, order));
  fields.version = String(version + 1);
  return { fields, amount: null };
}

export function fillWrite(read: LedgerRead, fill: Fill, nowMs: number): FillWrite {
  if (read.kind !== 'ok') return orderFieldsOnly(read, fill);
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

/** What an order whose fill is not confirmed writes: its order fields (the cooldown) only. */
export function orderWrite(read: LedgerRead, order: UnconfirmedOrder): FillWrite {
  return orderFieldsOnly(read, order);
}
