/**
 * Evidence (SPEC §7 row 8, §4): executed results from `apply.result` that explain a drift
 * between the exchange snapshot and the ledger. Pure: the engine feeds them in, the
 * decision asks whether some of them account for `ex − ledger`.
 *
 * Two kinds of executed result are evidence:
 * - a **fill**, when it was taken before the snapshot (so the snapshot reflects it), lies
 *   inside the window, is not yet part of the ledger (newer than its `last_result_id`; the
 *   repair script also checks the fill's applied marker), and was never used before;
 * - an **order whose fill is not confirmed** (a Binance ACK, an executor's UNKNOWN), under
 *   the same time and use rules, signed by its side or — no side recorded — toward flat
 *   from the ledger. The brain never applies such an order, so `last_result_id` says
 *   nothing about it; an order whose id also shows up as a fill in the window was
 *   confirmed after all and is that fill's business, not evidence of its own.
 *
 * Preference: one fill, then the pending fills' sum, then one unconfirmed order.
 */
import { type Amount, ZERO, amountsEqual } from './amount.js';
import { type Fill, type UnconfirmedOrder, orderSignedQty } from './apply-result.js';
import { compareStreamIds, streamIdMs } from './identifiers.js';

export type EvidenceKind = 'single_fill' | 'pending_sum' | 'unconfirmed_order';

/** What the evidence window holds: the executed results of one symbol. */
export type EvidenceItem = Fill | UnconfirmedOrder;

export interface Evidence {
  kind: EvidenceKind;
  /** Stream entry ids of the fills, oldest first. */
  entryIds: readonly string[];
  /** Plan and order of the newest fill. */
  planId: string | null;
  orderId: string | null;
  /** Signed quantity the fills account for. */
  signedQty: Amount;
}

export interface EvidenceQuery {
  /** This symbol's executed results — fills and unconfirmed orders — in any order. */
  fills: readonly EvidenceItem[];
  usedEvidence: ReadonlySet<string>;
  snapshotTakenMs: number;
  nowMs: number;
  windowMs: number;
  /** ex − ledger, signed. */
  drift: Amount;
  /** The ledger amount (signs an unconfirmed order without a side: toward flat). */
  ledgerAmt: Amount;
  epsilon: Amount;
  /** The ledger's `last_result_id`: fills newer than it are not in the ledger yet. */
  lastResultId: string | null;
}

function byEntryId(a: EvidenceItem, b: EvidenceItem): number {
  return compareStreamIds(a.entryId, b.entryId);
}

function insideWindow(item: EvidenceItem, q: EvidenceQuery): boolean {
  return item.timeMs < q.snapshotTakenMs && item.timeMs >= q.nowMs - q.windowMs;
}

function fillsOf(q: EvidenceQuery): Fill[] {
  return q.fills.filter((item): item is Fill => item.kind === 'fill');
}

function toEvidence(kind: EvidenceKind, fills: readonly Fill[]): Evidence {
  const newest = fills[fills.length - 1] as Fill;
  return {
    kind,
    entryIds: fills.map((f) => f.entryId),
    planId: newest.planId,
    orderId: newest.orderId,
    signedQty: fills.reduce((sum, f) => sum.plus(f.signedQty), ZERO),
  };
}

/**
 * A fill at or before the ledger's `last_result_id` has been applied to the ledger by the
 * brain: it is part of the ledger and cannot explain a drift. (The repair script checks
 * the exact per-fill applied marker too; this keeps the decision honest before that.)
 */
function notYetInLedger(fill: Fill, q: EvidenceQuery): boolean {
  return q.lastResultId === null || compareStreamIds(fill.entryId, q.lastResultId) > 0;
}

/**
 * One unused fill, before the snapshot and not yet in the ledger, whose signed quantity
 * equals the drift (newest wins).
 */
function singleFillEvidence(q: EvidenceQuery): Evidence | null {
  const matches = fillsOf(q)
    .filter(
      (f) =>
        insideWindow(f, q) &&
        notYetInLedger(f, q) &&
        !q.usedEvidence.has(f.entryId) &&
        f.signedQty.isNegative() === q.drift.isNegative() &&
        amountsEqual(f.signedQty, q.drift, q.epsilon),
    )
    .sort(byEntryId);
  const newest = matches[matches.length - 1];
  return newest ? toEvidence('single_fill', [newest]) : null;
}

/**
 * The fills newer than the ledger's `last_result_id`, in stream order, up to the first one
 * the snapshot cannot reflect yet: their signed sum must equal the drift. Refused when any
 * of them was used, or when the ledger's last result is older than the window (pending
 * fills may have left the window, so the sum could be incomplete).
 */
function pendingSumEvidence(q: EvidenceQuery): Evidence | null {
  const last = q.lastResultId;
  if (last === null || streamIdMs(last) < q.nowMs - q.windowMs) return null;
  const pending = fillsOf(q)
    .filter((f) => compareStreamIds(f.entryId, last) > 0)
    .sort(byEntryId);
  const prefix: Fill[] = [];
  for (const fill of pending) {
    if (fill.timeMs >= q.snapshotTakenMs) break;
    prefix.push(fill);
  }
  if (prefix.length === 0) return null;
  if (prefix.some((f) => q.usedEvidence.has(f.entryId) || !insideWindow(f, q))) return null;
  const evidence = toEvidence('pending_sum', prefix);
  return amountsEqual(evidence.signedQty, q.drift, q.epsilon) ? evidence : null;
}

/**
 * One unused unconfirmed order, before the snapshot and inside the window, whose signed
 * quantity (by side, else toward flat from the ledger) equals the drift (newest wins).
 */
function unconfirmedOrderEvidence(q: EvidenceQuery): Evidence | null {
  const filledOrderIds = new Set(fillsOf(q).map((f) => f.orderId));
  let newest: { order: UnconfirmedOrder; signedQty: Amount } | null = null;
  for (const item of q.fills) {
    if (item.kind !== 'unconfirmed_order') continue;
    if (!insideWindow(item, q) || q.usedEvidence.has(item.entryId)) continue;
    if (item.orderId !== null && filledOrderIds.has(item.orderId)) continue;
    const signedQty = orderSignedQty(item, q.ledgerAmt, q.epsilon);
    if (signedQty === null || signedQty.isNegative() !== q.drift.isNegative()) continue;
    if (!amountsEqual(signedQty, q.drift, q.epsilon)) continue;
    if (newest === null || byEntryId(item, newest.order) > 0) newest = { order: item, signedQty };
  }
  if (newest === null) return null;
  const { order, signedQty } = newest;
  return {
    kind: 'unconfirmed_order',
    entryIds: [order.entryId],
    planId: order.planId,
    orderId: order.orderId,
    signedQty,
  };
}

/** Executed results that explain `ex − ledger`, or null when nothing does. */
export function findEvidence(q: EvidenceQuery): Evidence | null {
  if (amountsEqual(q.drift, ZERO, q.epsilon)) return null;
  return singleFillEvidence(q) ?? pendingSumEvidence(q) ?? unconfirmedOrderEvidence(q);
}

/**
 * The in-memory evidence window: executed results (fills and unconfirmed orders) of the
 * watched symbols, in stream order, dropped once both their own time and their stream
 * time are older than the window.
 */
export class EvidenceWindow {
  private readonly bySymbol = new Map<string, EvidenceItem[]>();
  private count = 0;

  constructor(private readonly symbols: ReadonlySet<string>) {}

  /** Adds a result of a watched symbol; returns false when the symbol is not watched. */
  add(item: EvidenceItem): boolean {
    if (!this.symbols.has(item.symbol)) return false;
    const list = this.bySymbol.get(item.symbol);
    if (list) list.push(item);
    else this.bySymbol.set(item.symbol, [item]);
    this.count += 1;
    return true;
  }

  /** Drops every result (the window is rebuilt from the stream). */
  clear(): void {
    this.bySymbol.clear();
    this.count = 0;
  }

  /** Drops fills older than `oldestMs`. */
  prune(oldestMs: number): void {
    for (const [symbol, list] of this.bySymbol) {
      const kept = list.filter((f) => Math.max(f.timeMs, streamIdMs(f.entryId)) >= oldestMs);
      this.count -= list.length - kept.length;
      if (kept.length === 0) this.bySymbol.delete(symbol);
      else this.bySymbol.set(symbol, kept);
    }
  }

  /** This symbol's executed results: fills and unconfirmed orders. */
  fillsFor(symbol: string): readonly EvidenceItem[] {
    return this.bySymbol.get(symbol) ?? [];
  }

  all(): EvidenceItem[] {
    return [...this.bySymbol.values()].flat();
  }

  get size(): number {
    return this.count;
  }
}
