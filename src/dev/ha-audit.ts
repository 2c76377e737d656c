/**
 * The end-of-run checks of an HA run (the `ha` demo scenario, the failover figure), as pure
 * functions of what was observed. Nothing here does I/O; ha-load.ts gathers the inputs.
 *
 * Definitions (docs/demo.md, "The ha scenario"):
 *
 * - **A plan holds two ALLOW permits** when the gate answered `ok` for its plan id more than
 *   once — each `ok` hands the Apply Layer a consumed ALLOW permit and a quantity to trade,
 *   whether the same permit came back after a failover lost its consume or the brain issued
 *   a second one after a failover lost its plan-seen marker. Counted from every answer of
 *   `consumePermits` the Apply Layer received.
 * - **A plan executed twice**: the venue's own order log holds more than one order sent for
 *   it (orders are tied to plans by the client order id the Apply Layer sent).
 * - **A fill lost**: an order the venue filled whose result entry is not in the surviving
 *   `apply.result` stream, or is there but was never applied to the ledger (no
 *   result-applied marker). **A fill applied twice**: an order with two applied entries.
 * - **Ledger = venue**: each symbol's ledger amount (the shared codec) equals the venue's
 *   position within ε (half the lot step).
 */
import { type Amount, amountsEqual, formatAmount } from '../domain/amount.js';
import type { Fill } from '../domain/apply-result.js';
import type { OrderLogEntry } from './venue/venue.js';

export interface OrderSent {
  planId: string;
  symbol: string;
  clientOrderId: string;
}

export interface SymbolEnd {
  symbol: string;
  venue: string;
  /** Decoded ledger amount, or why there is none. */
  ledger: string;
  equal: boolean;
  /** Ledger version at the end minus at the start (null when either is unreadable). */
  versionDelta: number | null;
  /** Fills the venue made for the Apply Layer on this symbol since the start. */
  fills: number;
  /** Of those, applied to the ledger (their result entry's applied marker is set). */
  fillsApplied: number;
}

export interface HaAudit {
  /** Plan ids the gate answered `ok` more than once, with the count. */
  plansWithTwoAllows: { planId: string; allows: number }[];
  /** Plan ids with more than one order on the venue, with the count. */
  plansWithTwoOrders: { planId: string; orders: number }[];
  /** Venue orders (source api) no order the Apply Layer sent accounts for. */
  unattributedOrders: number;
  /** Orders the venue filled whose result entry is missing from the stream. */
  resultsLost: string[];
  /** Orders with more than one result entry. */
  resultsDuplicated: string[];
  /** Entries of filled orders that were never applied (no result-applied marker). */
  fillsNotApplied: string[];
  /** Orders whose fill was applied more than once. */
  fillsAppliedTwice: string[];
  symbols: SymbolEnd[];
  /** Orders the venue filled for the Apply Layer, and rejected, since the start. */
  ordersFilled: number;
  ordersRejected: number;
}

/** Plan ids answered `ok` by the gate more than once. */
export function plansWithTwoAllows(
  allowsByPlan: ReadonlyMap<string, number>,
): HaAudit['plansWithTwoAllows'] {
  return [...allowsByPlan]
    .filter(([, allows]) => allows > 1)
    .map(([planId, allows]) => ({ planId, allows }));
}

/** Venue orders per plan (filled or not: each is an order sent for the plan). */
export function ordersPerPlan(
  venueOrders: readonly OrderLogEntry[],
  sent: ReadonlyMap<string, OrderSent>,
): { plansWithTwoOrders: HaAudit['plansWithTwoOrders']; unattributed: number } {
  const perPlan = new Map<string, number>();
  let unattributed = 0;
  for (const order of venueOrders) {
    if (order.source !== 'api') continue;
    const mine = sent.get(order.clientOrderId);
    if (mine === undefined) {
      unattributed += 1;
      continue;
    }
    perPlan.set(mine.planId, (perPlan.get(mine.planId) ?? 0) + 1);
  }
  return {
    plansWithTwoOrders: [...perPlan]
      .filter(([, n]) => n > 1)
      .map(([planId, orders]) => ({ planId, orders })),
    unattributed,
  };
}

/** `SYM#orderId`: Binance order ids are unique per symbol only. */
const orderKey = (symbol: string, orderId: string | number): string => `${symbol}#${orderId}`;

/**
 * Each filled venue order against the result entries on the surviving master: one entry,
 * applied once. `applied` holds the entry ids whose result-applied marker is set.
 */
export function resultAccounting(
  filled: readonly OrderLogEntry[],
  entries: readonly Fill[],
  applied: ReadonlySet<string>,
): Pick<HaAudit, 'resultsLost' | 'resultsDuplicated' | 'fillsNotApplied' | 'fillsAppliedTwice'> {
  const byOrder = new Map<string, Fill[]>();
  for (const fill of entries) {
    if (fill.orderId === null) continue;
    const key = orderKey(fill.symbol, fill.orderId);
    byOrder.set(key, [...(byOrder.get(key) ?? []), fill]);
  }
  const out = {
    resultsLost: [] as string[],
    resultsDuplicated: [] as string[],
    fillsNotApplied: [] as string[],
    fillsAppliedTwice: [] as string[],
  };
  for (const order of filled) {
    const key = orderKey(order.symbol, order.orderId);
    const found = byOrder.get(key) ?? [];
    const appliedCount = found.filter((f) => applied.has(f.entryId)).length;
    if (found.length === 0) out.resultsLost.push(key);
    if (found.length > 1) out.resultsDuplicated.push(key);
    if (found.length > 0 && appliedCount === 0) out.fillsNotApplied.push(key);
    if (appliedCount > 1) out.fillsAppliedTwice.push(key);
  }
  return out;
}

export interface SymbolInputs {
  symbol: string;
  venue: Amount;
  /** The decoded ledger (null: missing or invalid, with `problem`). */
  ledger: { amount: Amount; version: number } | null;
  problem?: string;
  versionAtStart: number | null;
  epsilon: Amount;
  fills: number;
  fillsApplied: number;
}

export function symbolEnd(s: SymbolInputs): SymbolEnd {
  return {
    symbol: s.symbol,
    venue: formatAmount(s.venue),
    ledger: s.ledger === null ? `none (${s.problem ?? 'missing'})` : formatAmount(s.ledger.amount),
    equal: s.ledger !== null && amountsEqual(s.ledger.amount, s.venue, s.epsilon),
    versionDelta:
      s.ledger === null || s.versionAtStart === null ? null : s.ledger.version - s.versionAtStart,
    fills: s.fills,
    fillsApplied: s.fillsApplied,
  };
}

/** Why the audit fails, one line per broken invariant (empty: it holds). */
export function auditFailures(audit: HaAudit): string[] {
  const failures: string[] = [];
  const few = (list: readonly string[]): string =>
    list.slice(0, 5).join(', ') + (list.length > 5 ? `, … (${list.length} in all)` : '');
  if (audit.plansWithTwoAllows.length > 0) {
    failures.push(
      `${audit.plansWithTwoAllows.length} plan(s) the gate answered ALLOW twice: ` +
        few(audit.plansWithTwoAllows.map((p) => `${p.planId} ×${p.allows}`)),
    );
  }
  if (audit.plansWithTwoOrders.length > 0) {
    failures.push(
      `${audit.plansWithTwoOrders.length} plan(s) with two orders on the venue: ` +
        few(audit.plansWithTwoOrders.map((p) => `${p.planId} ×${p.orders}`)),
    );
  }
  if (audit.unattributedOrders > 0) {
    failures.push(`${audit.unattributedOrders} venue order(s) the Apply Layer never sent`);
  }
  if (audit.resultsLost.length > 0)
    failures.push(`fills lost (no result entry survived): ${few(audit.resultsLost)}`);
  if (audit.fillsNotApplied.length > 0)
    failures.push(`fills never applied to the ledger: ${few(audit.fillsNotApplied)}`);
  if (audit.fillsAppliedTwice.length > 0)
    failures.push(`fills applied twice: ${few(audit.fillsAppliedTwice)}`);
  for (const s of audit.symbols) {
    if (!s.equal) failures.push(`${s.symbol}: ledger ${s.ledger} ≠ venue position ${s.venue}`);
  }
  return failures;
}
