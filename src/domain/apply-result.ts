/**
 * The one tolerant parser for `P:stream:apply.result` entries (SPEC §4), shared by the
 * brain's ledger updates and the engine's evidence, so the two can never disagree about
 * what a fill looks like (LESSONS #2). Real writers differ widely
 * (`fixtures/peer_shapes.json`); every entry is exactly one of:
 *
 * - **fill** — executed with a filled quantity > 0 (top-level `filled_qty`, else the sum
 *   of `steps_results[].executed_qty`, else `details.filled_qty`) and a BUY/SELL side.
 *   Applied to the ledger once.
 * - **unconfirmed order** — executed, filled quantity zero or absent (a Binance ACK:
 *   status NEW, `executedQty 0`; an executor's UNKNOWN), ordered quantity known
 *   (`steps_results[].quantity`/`.qty`, `close_qty`, `details.qty`). Never applied to a
 *   ledger; it records the last-order fields and is evidence for the engine, signed by its
 *   side or, with no side recorded (reconcile closes), toward flat.
 * - **not executed** — acked, no change. Side and qty in a non-executed record are the
 *   plan's, never a fill; its `details` is not even read.
 * - **malformed** — executed with no quantity anywhere, or unreadable: counted, logged,
 *   acked; never a crash, never a silent zero fill.
 *
 * `executed` ∈ true/True/1/yes (or a JSON true in `details` when the top level says
 * nothing); time from `ts`, `timestamp` (seconds, int or float) or `ts_ms`, else
 * `details.timestamp`, else the stream id. Reduce-only only when the record says so.
 */
import { type Amount, Decimal } from './amount.js';
import { isPlanId, isSymbol, streamIdMs } from './identifiers.js';
import {
  type OrderSide,
  type ResultRecord,
  firstOf,
  readBool,
  readFilledQty,
  readId,
  readOrderSide,
  readOrderedQty,
  readRecord,
} from './result-record.js';
import { parseTimestampMs } from './time.js';

export type { OrderSide } from './result-record.js';

export interface Fill {
  kind: 'fill';
  entryId: string;
  symbol: string;
  planId: string | null;
  orderId: string | null;
  orderSide: OrderSide;
  /** Executed quantity, > 0. */
  qty: Amount;
  /** BUY → +qty, SELL → −qty. */
  signedQty: Amount;
  /** True only when the record says so; such a fill never crosses zero. */
  reduceOnly: boolean;
  timeMs: number;
}

/** An executed order whose fill the record does not confirm: evidence, never a ledger change. */
export interface UnconfirmedOrder {
  kind: 'unconfirmed_order';
  entryId: string;
  symbol: string;
  planId: string | null;
  orderId: string | null;
  /** null: no side recorded (a reconcile close) — the order moves the position toward flat. */
  orderSide: OrderSide | null;
  /** Ordered quantity, > 0. */
  qty: Amount;
  timeMs: number;
}

export type ApplyResultParse =
  | { kind: 'fill'; fill: Fill }
  | { kind: 'unconfirmed_order'; order: UnconfirmedOrder }
  | { kind: 'not_executed'; symbol: string | null; planId: string | null }
  | { kind: 'malformed'; problem: string; symbol: string | null };

function readSymbol(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const symbol = raw.trim().toUpperCase();
  return isSymbol(symbol) ? symbol : null;
}

function readPlanId(raw: unknown): string | null {
  return isPlanId(raw) ? raw : null;
}

/** Top-level `executed` decides; only when it is absent does a JSON `details.executed`. */
function readExecuted(r: ResultRecord): boolean | null {
  if (r.fields.executed !== undefined) return readBool(r.fields.executed);
  return r.details === null ? null : readBool(r.details.executed);
}

function malformed(problem: string, symbol: string | null): ApplyResultParse {
  return { kind: 'malformed', problem, symbol };
}

/** Why an executed entry says nothing usable about quantities (for the log). */
function noQuantity(r: ResultRecord, filledZero: boolean): string {
  const what = filledZero
    ? 'executed, filled quantity zero and no ordered quantity'
    : 'executed with no quantity anywhere';
  return r.detailsProblem === null ? what : `${what} (${r.detailsProblem})`;
}

export function parseApplyResult(
  entryId: string,
  fields: Record<string, string>,
): ApplyResultParse {
  // A record that says it was not executed is done with: its steps and details are the
  // plan's (or a Python repr), never read.
  if (fields.executed !== undefined && readBool(fields.executed) === false) {
    const planId = readPlanId(fields.plan_id?.trim());
    return { kind: 'not_executed', symbol: readSymbol(fields.symbol), planId };
  }
  const r = readRecord(fields);
  const symbol = firstOf(r, ['symbol'], readSymbol);
  const planId = readPlanId(fields.plan_id?.trim()) ?? readPlanId(r.details?.plan_id);
  const executed = readExecuted(r);
  if (executed === null) {
    const raw = fields.executed ?? r.details?.executed ?? null;
    return malformed(`executed ${JSON.stringify(raw)} is not a boolean`, symbol);
  }
  if (!executed) return { kind: 'not_executed', symbol, planId };
  if (symbol === null)
    return malformed(
      `symbol ${JSON.stringify(fields.symbol ?? null)} is not a valid symbol`,
      symbol,
    );
  if (r.stepsProblem !== null) return malformed(r.stepsProblem, symbol);

  const base = {
    entryId,
    symbol,
    planId,
    orderId: firstOf(r, ['order_id', 'orderId'], readId, 'last'),
    orderSide: firstOf(r, ['side'], readOrderSide),
    timeMs:
      firstOf(r, ['ts', 'timestamp', 'ts_ms'], (raw) => parseTimestampMs(raw)) ??
      streamIdMs(entryId),
  };
  const filled = readFilledQty(r);
  if (filled.kind === 'problem') return malformed(filled.problem, symbol);
  if (filled.kind === 'ok' && filled.qty.gt(0)) {
    const side = base.orderSide;
    if (side === null)
      return malformed('no BUY/SELL side in side, steps_results or details', symbol);
    const reduceOnly = firstOf(r, ['reduceOnly', 'reduce_only'], readBool) === true;
    const signedQty = side === 'BUY' ? filled.qty : filled.qty.neg();
    return {
      kind: 'fill',
      fill: { ...base, kind: 'fill', orderSide: side, qty: filled.qty, signedQty, reduceOnly },
    };
  }
  const ordered = readOrderedQty(r);
  if (ordered.kind === 'problem') return malformed(ordered.problem, symbol);
  if (ordered.kind === 'absent') return malformed(noQuantity(r, filled.kind === 'ok'), symbol);
  return {
    kind: 'unconfirmed_order',
    order: { ...base, kind: 'unconfirmed_order', qty: ordered.qty },
  };
}

/**
 * The signed quantity an unconfirmed order stands for: by its side, or — no side recorded
 * — toward flat from `position` (the ledger's amount before the order). Null when that
 * direction is unknowable (no side and a flat position).
 */
export function orderSignedQty(
  order: UnconfirmedOrder,
  position: Amount,
  epsilon: Amount,
): Amount | null {
  if (order.orderSide === 'BUY') return order.qty;
  if (order.orderSide === 'SELL') return order.qty.neg();
  if (position.abs().lte(epsilon)) return null;
  return position.isNegative() ? order.qty : order.qty.neg();
}

/** Relative distance within which a quantity is float noise around a step multiple (SPEC §4). */
const SNAP_RELATIVE = new Decimal('1e-9');

/**
 * Float-noise snapping (SPEC §4): a quantity within 1e-9 (relative) of a multiple of the
 * lot step becomes that multiple (`0.009999999999999998` → `0.01`); any other off-step
 * quantity is kept exactly and flagged for counting. An unknown step changes nothing.
 */
export function snapToLotStep(qty: Amount, step: Amount | null): { qty: Amount; offStep: boolean } {
  if (step === null || !step.gt(0) || qty.isZero()) return { qty, offStep: false };
  const nearest = qty.div(step).toDecimalPlaces(0, Decimal.ROUND_HALF_UP).mul(step);
  if (nearest.eq(qty)) return { qty, offStep: false };
  if (qty.minus(nearest).abs().lte(qty.abs().mul(SNAP_RELATIVE)) && !nearest.isZero())
    return { qty: nearest, offStep: false };
  return { qty, offStep: true };
}

/** A fill with its quantity snapped to the lot step (see `snapToLotStep`). */
export function snapFill(fill: Fill, step: Amount | null): { fill: Fill; offStep: boolean } {
  const snapped = snapToLotStep(fill.qty, step);
  if (snapped.qty.eq(fill.qty)) return { fill, offStep: snapped.offStep };
  const signedQty = fill.orderSide === 'BUY' ? snapped.qty : snapped.qty.neg();
  return { fill: { ...fill, qty: snapped.qty, signedQty }, offStep: false };
}

/** Flattens an XRANGE/XREADGROUP field array into a record (last value wins). */
export function fieldsToRecord(flat: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i] as string] = flat[i + 1] as string;
  return record;
}
