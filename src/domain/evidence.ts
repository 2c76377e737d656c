/**
 * Evidence (SPEC §7 row 8): executed fills from `apply.result` that explain a drift
 * between the exchange snapshot and the ledger. Pure: the engine feeds fills in, the
 * decision asks whether some of them account for `ex − ledger`.
 *
 * A fill is evidence only when it was taken before the snapshot (so the snapshot
 * reflects it), lies inside the window, is not yet part of the ledger (newer than its
 * `last_result_id`; the repair script also checks the fill's applied marker), and was
 * never used to justify a repair before.
 */
import { type Amount, ZERO, amountsEqual } from './amount.js';
import type { Fill } from './apply-result.js';
import { compareStreamIds, streamIdMs } from './identifiers.js';

export type EvidenceKind = 'single_fill' | 'pending_sum';

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
  /** This symbol's fills (any order). */
  fills: readonly Fill[];
  usedEvidence: ReadonlySet<string>;
  snapshotTakenMs: number;
  nowMs: number;
  windowMs: number;
  /** ex − ledger, signed. */
  drift: Amount;
  epsilon: Amount;
  /** The ledger's `last_result_id`: fills newer than it are not in the ledger yet. */
  lastResultId: string | null;
}

function byEntryId(a: Fill, b: Fill): number {
  return compareStreamIds(a.entryId, b.entryId);
}

function insideWindow(fill: Fill, q: EvidenceQuery): boolean {
  return fill.timeMs < q.snapshotTakenMs && fill.timeMs >= q.nowMs - q.windowMs;
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
  const matches = q.fills
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
  const pending = q.fills.filter((f) => compareStreamIds(f.entryId, last) > 0).sort(byEntryId);
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

/** Fills that explain `ex − ledger`, or null when nothing does. */
export function findEvidence(q: EvidenceQuery): Evidence | null {
  if (amountsEqual(q.drift, ZERO, q.epsilon)) return null;
  return singleFillEvidence(q) ?? pendingSumEvidence(q);
}

/**
 * The in-memory evidence window: executed fills of the watched symbols, in stream order,
 * dropped once both their fill time and their stream time are older than the window.
 */
export class EvidenceWindow {
  private readonly bySymbol = new Map<string, Fill[]>();
  private count = 0;

  constructor(private readonly symbols: ReadonlySet<string>) {}

  /** Adds a fill of a watched symbol; returns false when the symbol is not watched. */
  add(fill: Fill): boolean {
    if (!this.symbols.has(fill.symbol)) return false;
    const list = this.bySymbol.get(fill.symbol);
    if (list) list.push(fill);
    else this.bySymbol.set(fill.symbol, [fill]);
    this.count += 1;
    return true;
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

  fillsFor(symbol: string): readonly Fill[] {
    return this.bySymbol.get(symbol) ?? [];
  }

  all(): Fill[] {
    return [...this.bySymbol.values()].flat();
  }

  get size(): number {
    return this.count;
  }
}
