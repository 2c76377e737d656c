/**
 * The `apply.result` entries the Apply Layer stub writes, in the shapes real writers use
 * (SPEC §4, LESSONS #2). The stub rotates through them so every shape the shared parser
 * accepts is exercised by the brain's ledger updates and the engine's evidence:
 *
 * - `steps`     executed="True", `steps_results` JSON with executed_qty per step
 * - `flat`      executed="true", top-level `filled_qty`, `side`, `order_id`, `ts` (ms)
 * - `flat_1`    executed="1", top-level fields, `timestamp` in seconds
 * - `steps_yes` executed="yes", `steps_results`, `ts_ms`
 *
 * Pure: no Redis, no clock reads.
 */
import { type Amount, formatAmount } from '../../domain/amount.js';

export type ResultShape = 'steps' | 'flat' | 'flat_1' | 'steps_yes';

/** Mostly the two common shapes, now and then the rarer `1` / `yes` forms. */
const ROTATION: readonly ResultShape[] = ['steps', 'flat', 'steps', 'flat', 'flat_1', 'steps_yes'];

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
  }
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
