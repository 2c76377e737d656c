/**
 * The demo's proof that no order was ever sized beyond the exchange position: every
 * reduce-only order is compared with the exchange position right before it. Pure.
 *
 * A reduce-only order is oversize when its quantity exceeds |position| (beyond ε), and
 * wrong-way when its side would grow the position (SELL against a SHORT or flat, BUY
 * against a LONG or flat). The venue's reduce-only rejections are counted too: each one
 * is an order the Apply Layer tried to send larger than the position.
 */
import {
  type Amount,
  DEFAULT_EPSILON,
  Decimal,
  formatAmount,
  parseAmount,
} from '../../domain/amount.js';
import type { OrderLogEntry } from '../venue/venue.js';

export interface AuditedOrder {
  planId: string;
  symbol: string;
  side: 'BUY' | 'SELL';
  qty: Amount;
  reduceOnly: boolean;
  /** Signed exchange position right before the order (from the venue). */
  positionBefore: Amount;
  /** filled, or rejected by the venue with its reason. */
  outcome: { kind: 'filled'; executedQty: Amount } | { kind: 'rejected'; reason: string };
  timeMs: number;
}

export type OrderViolationKind = 'oversize' | 'wrong_way' | 'reduce_only_rejected';

export interface OrderViolation {
  kind: OrderViolationKind;
  planId: string;
  symbol: string;
  qty: string;
  positionBefore: string;
  detail: string;
}

export interface OrderAudit {
  reduceOnlyOrders: number;
  openingOrders: number;
  rejectedOrders: number;
  violations: OrderViolation[];
  /** The largest order qty / |position before| among reduce-only orders (0 when none). */
  maxCloseRatio: number;
}

function violation(order: AuditedOrder, kind: OrderViolationKind, detail: string): OrderViolation {
  return {
    kind,
    planId: order.planId,
    symbol: order.symbol,
    qty: formatAmount(order.qty),
    positionBefore: formatAmount(order.positionBefore),
    detail,
  };
}

function checkReduceOnly(order: AuditedOrder, epsilon: Amount): OrderViolation[] {
  const found: OrderViolation[] = [];
  const size = order.positionBefore.abs();
  if (order.qty.minus(size).gt(epsilon)) {
    found.push(
      violation(
        order,
        'oversize',
        `order ${formatAmount(order.qty)} > |position| ${formatAmount(size)}`,
      ),
    );
  }
  const closesLong = order.side === 'SELL' && order.positionBefore.gt(epsilon);
  const closesShort = order.side === 'BUY' && order.positionBefore.lt(epsilon.neg());
  if (!closesLong && !closesShort) {
    found.push(
      violation(
        order,
        'wrong_way',
        `${order.side} against position ${formatAmount(order.positionBefore)}`,
      ),
    );
  }
  if (order.outcome.kind === 'rejected') {
    found.push(violation(order, 'reduce_only_rejected', order.outcome.reason));
  }
  return found;
}

export function auditOrders(
  orders: readonly AuditedOrder[],
  epsilon: Amount = DEFAULT_EPSILON,
): OrderAudit {
  const audit: OrderAudit = {
    reduceOnlyOrders: 0,
    openingOrders: 0,
    rejectedOrders: 0,
    violations: [],
    maxCloseRatio: 0,
  };
  for (const order of orders) {
    if (order.outcome.kind === 'rejected') audit.rejectedOrders += 1;
    if (!order.reduceOnly) {
      audit.openingOrders += 1;
      continue;
    }
    audit.reduceOnlyOrders += 1;
    audit.violations.push(...checkReduceOnly(order, epsilon));
    const size = order.positionBefore.abs();
    const ratio = size.isZero() ? Number.POSITIVE_INFINITY : order.qty.div(size).toNumber();
    audit.maxCloseRatio = Math.max(audit.maxCloseRatio, ratio);
  }
  return audit;
}

/** A venue order-log entry as the audit reads it. */
export function toAudited(entry: OrderLogEntry): AuditedOrder {
  const qty = parseAmount(entry.quantity) ?? new Decimal(0);
  const before = parseAmount(entry.positionBefore) ?? new Decimal(0);
  return {
    planId: entry.clientOrderId,
    symbol: entry.symbol,
    side: entry.side,
    qty,
    reduceOnly: entry.reduceOnly,
    positionBefore: before,
    outcome:
      entry.status === 'FILLED'
        ? { kind: 'filled', executedQty: qty }
        : {
            kind: 'rejected',
            reason: `${entry.rejectCode ?? ''} ${entry.rejectReason ?? ''}`.trim(),
          },
    timeMs: entry.timeMs,
  };
}
