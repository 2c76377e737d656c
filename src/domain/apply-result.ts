/**
 * The one tolerant parser for `P:stream:apply.result` entries (SPEC §4), shared by the
 * brain's ledger updates and the engine's evidence, so the two can never disagree about
 * what a fill looks like (LESSONS #2). Real writers differ:
 *
 * - `executed` ∈ true/True/1/yes
 * - quantity from `filled_qty`, else the sum of `steps_results[].executed_qty`
 * - order side BUY/SELL from `side`, else the steps
 * - order id from `order_id`, else the last step
 * - time from `ts`, `timestamp` or `ts_ms` (seconds or ms), else the stream id
 */
import { type Amount, ZERO, parseAmount } from './amount.js';
import { isPlanId, isSymbol, streamIdMs } from './identifiers.js';
import { parseTimestampMs } from './time.js';

export type OrderSide = 'BUY' | 'SELL';

export interface Fill {
  entryId: string;
  symbol: string;
  planId: string | null;
  orderId: string | null;
  orderSide: OrderSide;
  /** Executed quantity, > 0. */
  qty: Amount;
  /** BUY → +qty, SELL → −qty. */
  signedQty: Amount;
  reduceOnly: boolean;
  timeMs: number;
}

export type ApplyResultParse =
  | { kind: 'fill'; fill: Fill }
  /** Valid entry that changes no position (not executed, or nothing filled). */
  | { kind: 'no_fill'; symbol: string | null; planId: string | null }
  | { kind: 'bad'; problem: string; symbol: string | null };

const TRUE_WORDS = new Set(['true', '1', 'yes']);
const FALSE_WORDS = new Set(['false', '0', 'no', '']);

interface Step {
  executedQty: unknown;
  side: unknown;
  orderId: unknown;
  symbol: unknown;
}

function readSteps(raw: string | undefined): Step[] | string {
  if (raw === undefined || raw.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return 'steps_results is not JSON';
  }
  if (!Array.isArray(parsed)) return 'steps_results is not a JSON array';
  const steps: Step[] = [];
  for (const item of parsed) {
    if (typeof item !== 'object' || item === null) return 'steps_results holds a non-object';
    const step = item as Record<string, unknown>;
    steps.push({
      executedQty: step.executed_qty ?? step.executedQty ?? step.filled_qty,
      side: step.side,
      orderId: step.order_id ?? step.orderId,
      symbol: step.symbol,
    });
  }
  return steps;
}

function readOrderSide(raw: unknown): OrderSide | null {
  if (typeof raw !== 'string') return null;
  const side = raw.trim().toUpperCase();
  return side === 'BUY' || side === 'SELL' ? side : null;
}

function readBool(raw: string | undefined): boolean | null {
  if (raw === undefined) return null;
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return null;
}

function readId(raw: unknown): string | null {
  if (typeof raw === 'number' && Number.isSafeInteger(raw)) return String(raw);
  if (typeof raw !== 'string') return null;
  const trimmed = raw.trim();
  return trimmed === '' || trimmed.length > 128 ? null : trimmed;
}

function readQty(fields: Record<string, string>, steps: Step[]): Amount | string {
  if (fields.filled_qty !== undefined && fields.filled_qty.trim() !== '') {
    const qty = parseAmount(fields.filled_qty);
    return qty === null ? `filled_qty ${JSON.stringify(fields.filled_qty)} is not a decimal` : qty;
  }
  let sum = ZERO;
  for (const step of steps) {
    if (step.executedQty === undefined || step.executedQty === null) continue;
    const qty = parseAmount(step.executedQty);
    if (qty === null)
      return `steps_results executed_qty ${JSON.stringify(step.executedQty)} is not a decimal`;
    sum = sum.plus(qty);
  }
  return sum;
}

export function parseApplyResult(
  entryId: string,
  fields: Record<string, string>,
): ApplyResultParse {
  const steps = readSteps(fields.steps_results);
  const stepSymbol = Array.isArray(steps)
    ? steps.find((s) => isSymbol(s.symbol))?.symbol
    : undefined;
  const rawSymbol = fields.symbol?.trim().toUpperCase() ?? (stepSymbol as string | undefined);
  const symbol = isSymbol(rawSymbol) ? rawSymbol : null;
  const planId = isPlanId(fields.plan_id) ? fields.plan_id : null;
  if (typeof steps === 'string') return { kind: 'bad', problem: steps, symbol };

  const executed = readBool(fields.executed);
  if (executed === null) {
    return {
      kind: 'bad',
      problem: `executed ${JSON.stringify(fields.executed)} is not a boolean`,
      symbol,
    };
  }
  if (!executed) return { kind: 'no_fill', symbol, planId };
  if (symbol === null) {
    return {
      kind: 'bad',
      problem: `symbol ${JSON.stringify(fields.symbol)} is not a valid symbol`,
      symbol,
    };
  }

  const qty = readQty(fields, steps);
  if (typeof qty === 'string') return { kind: 'bad', problem: qty, symbol };
  if (qty.isNegative()) return { kind: 'bad', problem: 'negative executed quantity', symbol };
  if (qty.isZero()) return { kind: 'no_fill', symbol, planId };

  const orderSide =
    readOrderSide(fields.side) ?? steps.map((s) => readOrderSide(s.side)).find((s) => s);
  if (!orderSide)
    return { kind: 'bad', problem: 'no BUY/SELL side in side or steps_results', symbol };

  const lastStep = steps.at(-1);
  const orderId = readId(fields.order_id) ?? readId(lastStep?.orderId);
  const timeMs =
    parseTimestampMs(fields.ts) ??
    parseTimestampMs(fields.timestamp) ??
    parseTimestampMs(fields.ts_ms) ??
    streamIdMs(entryId);
  const reduceOnlyRaw = readBool(fields.reduceOnly ?? fields.reduce_only);

  return {
    kind: 'fill',
    fill: {
      entryId,
      symbol,
      planId,
      orderId,
      orderSide,
      qty,
      signedQty: orderSide === 'BUY' ? qty : qty.neg(),
      // The Apply Layer only closes positions; absent a flag, a fill is reduce-only.
      reduceOnly: reduceOnlyRaw ?? true,
      timeMs,
    },
  };
}

/** Flattens an XRANGE/XREADGROUP field array into a record (last value wins). */
export function fieldsToRecord(flat: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i] as string] = flat[i + 1] as string;
  return record;
}
