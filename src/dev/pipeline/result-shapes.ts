/**
 * The `apply.result` entries the Apply Layer stub writes, in the shapes real writers use
 * (SPEC §4, LESSONS #2, `fixtures/peer_shapes.json`). The stub rotates through them so
 * every fill shape the shared parser accepts is exercised by the brain's ledger updates
 * and the engine's evidence:
 *
 * - `steps`         executed="True", `steps_results` JSON with executed_qty per step
 * - `flat`          executed="true", top-level `filled_qty`, `side`, `order_id`, `ts` (ms)
 * - `flat_1`        executed="1", top-level fields, `timestamp` in seconds
 * - `steps_yes`     executed="yes", `steps_results`, `ts_ms`
 * - `details`       intent_executor: executed="true", every fact only inside the JSON
 *                   `details` (numbers as JSON numbers, no reduce-only flag), int seconds
 * - `close_handler` apply_layer close handler: `close_qty` (ordered) next to
 *                   `filled_qty`, status FILLED, reduceOnly "True", int seconds
 *
 * Pure: no Redis, no clock reads.
 */
import { type Amount, formatAmount } from '../../domain/amount.js';

export type ResultShape = 'steps' | 'flat' | 'flat_1' | 'steps_yes' | 'details' | 'close_handler';

/** Mostly the two common shapes, now and then each of the rarer forms. */
const ROTATION: readonly ResultShape[] = [
  'steps',
  'flat',
  'steps',
  'flat',
  'flat_1',
  'steps_yes',
  'details',
  'close_handler',
];

export function shapeForSequence(seq: number): ResultShape {
  const index = ((seq % ROTATION.length) + ROTATION.length) % ROTATION.length;
  return ROTATION[index] as ResultShape;
}

export interface ExecutedOrder {
  planId: string;
  symbol: string;
  orderId: string;
  side: 'BUY' | 'SELL';
  executedQty: Amount;
  reduceOnly: boolean;
  timeMs: number;
}

/** Fields of a result entry for an executed order. */
export function encodeExecutedResult(
  order: ExecutedOrder,
  shape: ResultShape,
): Record<string, string> {
  const qty = formatAmount(order.executedQty);
  const common: Record<string, string> = {
    plan_id: order.planId,
    symbol: order.symbol,
    decision: 'EXECUTE',
    reduce_only: order.reduceOnly ? 'true' : 'false',
  };
  const steps = JSON.stringify([
    { step: 'place_order', order_id: order.orderId, side: order.side, executed_qty: qty },
  ]);
  switch (shape) {
    case 'steps':
      return {
        ...common,
        executed: 'True',
        steps_results: steps,
        timestamp: seconds(order.timeMs),
      };
    case 'steps_yes':
      return { ...common, executed: 'yes', steps_results: steps, ts_ms: String(order.timeMs) };
    case 'flat':
      return {
        ...common,
        executed: 'true',
        filled_qty: qty,
        side: order.side,
        order_id: order.orderId,
        ts: String(order.timeMs),
      };
    case 'flat_1':
      return {
        ...common,
        executed: '1',
        filled_qty: qty,
        side: order.side,
        order_id: order.orderId,
        timestamp: seconds(order.timeMs),
      };
    case 'details':
      return intentExecutorResult(order, qty);
    case 'close_handler':
      return {
        plan_id: order.planId,
        symbol: order.symbol,
        action: 'PARTIAL_CLOSE_PROPOSED',
        executed: 'True',
        reduceOnly: order.reduceOnly ? 'True' : 'False',
        close_qty: qty,
        filled_qty: qty,
        order_id: order.orderId,
        status: 'FILLED',
        side: order.side,
        timestamp: String(Math.floor(order.timeMs / 1000)),
      };
  }
}

/** intent_executor's record: the facts live only in the JSON `details` field. */
function intentExecutorResult(order: ExecutedOrder, qty: string): Record<string, string> {
  const tsSec = Math.floor(order.timeMs / 1000);
  const orderId = /^\d{1,15}$/.test(order.orderId) ? Number(order.orderId) : order.orderId;
  const details = {
    plan_id: order.planId,
    symbol: order.symbol,
    executed: true,
    source: 'intent_executor',
    timestamp: tsSec,
    side: order.side,
    qty: Number(qty),
    order_id: orderId,
    filled_qty: Number(qty),
    order_status: 'FILLED',
  };
  return {
    event_type: 'apply.result',
    plan_id: order.planId,
    symbol: order.symbol,
    executed: 'true',
    source: 'intent_executor',
    timestamp: String(tsSec),
    details: JSON.stringify(details),
  };
}

/** Fields of a result entry for a plan that was not executed (refused or failed). */
export function encodeNotExecutedResult(input: {
  planId: string;
  symbol: string;
  error: string;
  timeMs: number;
}): Record<string, string> {
  return {
    plan_id: input.planId,
    symbol: input.symbol,
    decision: 'EXECUTE',
    executed: 'False',
    error: input.error,
    ts: String(input.timeMs),
  };
}

/** Seconds with millisecond decimals, as Python writers produce (`time.time()`). */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** Flattens a field record into XADD arguments. */
export function toStreamArgs(fields: Record<string, string>): string[] {
  return Object.entries(fields).flat();
}
