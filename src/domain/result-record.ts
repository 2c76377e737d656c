/**
 * Where a real `apply.result` writer put each fact (SPEC §4, `fixtures/peer_shapes.json`):
 * at the top level, inside the JSON `steps_results` array, or inside the JSON `details`
 * object (intent_executor). Pure readers; `apply-result.ts` decides what the entry is.
 *
 * - `steps_results` is a JSON array of objects; anything else is a problem (reported only
 *   when the entry says it executed).
 * - `details` is used only when it is a JSON object. Some writers put a Python dict repr
 *   there (`{'side': 'SELL'}`): that is not JSON and is ignored (`detailsProblem` says so).
 */
import { type Amount, ZERO, parseAmount } from './amount.js';

export type OrderSide = 'BUY' | 'SELL';

export interface ResultRecord {
  fields: Record<string, string>;
  /** Objects of `steps_results`, [] when absent. */
  steps: Record<string, unknown>[];
  stepsProblem: string | null;
  /** The `details` object, null when absent or not a JSON object. */
  details: Record<string, unknown> | null;
  detailsProblem: string | null;
}

/** A quantity read from the first place that has one; `problem` when that value is unreadable. */
export type QtyRead =
  | { kind: 'absent' }
  | { kind: 'ok'; qty: Amount; source: string }
  | { kind: 'problem'; problem: string };

const TRUE_WORDS = new Set(['true', '1', 'yes']);
const FALSE_WORDS = new Set(['false', '0', 'no', '']);

function readSteps(raw: string | undefined): Pick<ResultRecord, 'steps' | 'stepsProblem'> {
  if (raw === undefined || raw.trim() === '') return { steps: [], stepsProblem: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { steps: [], stepsProblem: 'steps_results is not JSON' };
  }
  if (!Array.isArray(parsed))
    return { steps: [], stepsProblem: 'steps_results is not a JSON array' };
  if (parsed.some((s) => typeof s !== 'object' || s === null || Array.isArray(s)))
    return { steps: [], stepsProblem: 'steps_results holds a non-object' };
  return { steps: parsed as Record<string, unknown>[], stepsProblem: null };
}

function readDetails(raw: string | undefined): Pick<ResultRecord, 'details' | 'detailsProblem'> {
  if (raw === undefined || raw.trim() === '') return { details: null, detailsProblem: null };
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      return { details: parsed as Record<string, unknown>, detailsProblem: null };
  } catch {
    // A Python dict repr or free text: not ours to guess at.
  }
  return { details: null, detailsProblem: 'details is not a JSON object' };
}

export function readRecord(fields: Record<string, string>): ResultRecord {
  return { fields, ...readSteps(fields.steps_results), ...readDetails(fields.details) };
}

/** true / false from "True", "true", "1", "yes", JSON booleans…; null when unreadable. */
export function readBool(raw: unknown): boolean | null {
  if (typeof raw === 'boolean') return raw;
  if (raw === 1 || raw === 0) return raw === 1;
  if (typeof raw !== 'string') return null;
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return null;
}

export function readOrderSide(raw: unknown): OrderSide | null {
  if (typeof raw !== 'string') return null;
  const side = raw.trim().toUpperCase();
  return side === 'BUY' || side === 'SELL' ? side : null;
}

/** Order ids are strings or JSON integers; blank or overlong ids are no id. */
export function readId(raw: unknown): string | null {
  if (typeof raw === 'number' && Number.isSafeInteger(raw)) return String(raw);
  if (typeof raw !== 'string') return null;
  const trimmed = raw.trim();
  return trimmed === '' || trimmed.length > 128 ? null : trimmed;
}

function present(raw: unknown): boolean {
  return raw !== undefined && raw !== null && !(typeof raw === 'string' && raw.trim() === '');
}

function qtyOf(raw: unknown, source: string): QtyRead {
  const qty = parseAmount(raw);
  if (qty === null)
    return { kind: 'problem', problem: `${source} ${JSON.stringify(raw)} is not a decimal` };
  if (qty.isNegative()) return { kind: 'problem', problem: `${source} is negative` };
  return { kind: 'ok', qty, source };
}

/** The sum of one field over the steps that carry it; absent when none does. */
function stepSum(
  steps: Record<string, unknown>[],
  names: readonly string[],
  source: string,
): QtyRead {
  let sum = ZERO;
  let found = false;
  for (const step of steps) {
    const name = names.find((n) => present(step[n]));
    if (name === undefined) continue;
    const read = qtyOf(step[name], `${source}`);
    if (read.kind !== 'ok') return read;
    sum = sum.plus(read.qty);
    found = true;
  }
  return found ? { kind: 'ok', qty: sum, source } : { kind: 'absent' };
}

/**
 * The filled quantity, from the first place that states one (SPEC §4): top-level
 * `filled_qty`, else the sum of `steps_results[].executed_qty`, else `details.filled_qty`.
 * A stated zero is a stated zero (a Binance ACK), not a reason to look further.
 */
export function readFilledQty(r: ResultRecord): QtyRead {
  if (present(r.fields.filled_qty)) return qtyOf(r.fields.filled_qty, 'filled_qty');
  const steps = stepSum(
    r.steps,
    ['executed_qty', 'executedQty', 'filled_qty'],
    'steps_results executed_qty',
  );
  if (steps.kind !== 'absent') return steps;
  if (r.details !== null && present(r.details.filled_qty))
    return qtyOf(r.details.filled_qty, 'details.filled_qty');
  return { kind: 'absent' };
}

/**
 * The ordered quantity of an order whose fill is not confirmed: the sum of
 * `steps_results[].quantity` (or `.qty`), else `close_qty`, else `details.qty`. Each only
 * when > 0 (writers send `"0.0"` for "not given").
 */
export function readOrderedQty(r: ResultRecord): QtyRead {
  const sources: (() => QtyRead)[] = [
    () => stepSum(r.steps, ['quantity', 'qty'], 'steps_results quantity'),
    () =>
      present(r.fields.close_qty) ? qtyOf(r.fields.close_qty, 'close_qty') : { kind: 'absent' },
    () =>
      r.details !== null && present(r.details.qty)
        ? qtyOf(r.details.qty, 'details.qty')
        : { kind: 'absent' },
  ];
  for (const source of sources) {
    const read = source();
    if (read.kind === 'problem') return read;
    if (read.kind === 'ok' && read.qty.gt(0)) return read;
  }
  return { kind: 'absent' };
}

/** The first value found at the top level, in a step (first to last) or in details. */
export function firstOf<T>(
  r: ResultRecord,
  names: readonly string[],
  read: (raw: unknown) => T | null,
  steps: 'first' | 'last' = 'first',
): T | null {
  for (const name of names) {
    const top = read(r.fields[name]);
    if (top !== null) return top;
  }
  const ordered = steps === 'first' ? r.steps : [...r.steps].reverse();
  for (const step of ordered) {
    for (const name of names) {
      const value = read(step[name]);
      if (value !== null) return value;
    }
  }
  if (r.details === null) return null;
  for (const name of names) {
    const value = read(r.details[name]);
    if (value !== null) return value;
  }
  return null;
}
