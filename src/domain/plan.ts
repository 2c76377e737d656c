/**
 * The apply.plan codec (SPEC §5): what a plan asks for, read tolerantly but never guessed.
 *
 * - Only `decision=EXECUTE` is evaluated; other decisions are acknowledged without a permit.
 * - A plan without a valid `plan_id` is bad input: there is no key to write a permit to.
 * - Actions map to close fractions exactly as listed; a positive explicit `qty`/`close_qty`
 *   wins over the fraction. An unknown action without a qty is NOT a full close
 *   (LESSONS #12): the rules deny it with `unknown_action`.
 */
import { type Amount, Decimal, parseAmount } from './amount.js';
import { isPlanId, isSymbol, streamIdMs } from './identifiers.js';
import { parseTimestampMs } from './time.js';

const ONE = new Decimal(1);
const THREE_QUARTERS = new Decimal('0.75');
const HALF = new Decimal('0.5');
const QUARTER = new Decimal('0.25');

/** Every action the planner may send and the share of the position it closes. */
export const ACTION_FRACTIONS: ReadonlyMap<string, Amount> = new Map([
  ['FULL_CLOSE_PROPOSED', ONE],
  ['CLOSE_FULL', ONE],
  ['FULL_CLOSE', ONE],
  ['PARTIAL_75', THREE_QUARTERS],
  ['CLOSE_PARTIAL_75', THREE_QUARTERS],
  ['PARTIAL_50', HALF],
  ['CLOSE_PARTIAL_50', HALF],
  ['PARTIAL_25', QUARTER],
  ['CLOSE_PARTIAL_25', QUARTER],
]);

export interface Plan {
  entryId: string;
  planId: string;
  /** Upper-cased symbol text as sent; `symbolValid` says whether it can name a key. */
  symbol: string;
  symbolValid: boolean;
  /** Upper-cased action, null when absent. */
  action: string | null;
  /** Fraction of the action, null when the action is unknown or absent. */
  closeFraction: Amount | null;
  /** A positive explicit quantity (qty / close_qty), null when absent or zero. */
  explicitQty: Amount | null;
  /** Set when qty/close_qty is present but not a non-negative decimal. */
  qtyProblem: string | null;
  /** true / false when given, null when the plan does not say. Garbage reads as false. */
  reduceOnly: boolean | null;
  /** The plan's own time (seconds or ms), else the time Redis gave the stream entry. */
  timeMs: number;
  timeSource: 'plan' | 'stream_id';
}

export type PlanParse =
  | { kind: 'execute'; plan: Plan }
  /** A valid plan whose decision is not EXECUTE: acknowledged, no permit. */
  | { kind: 'ignored'; planId: string; decision: string }
  /** No valid plan id: acknowledged and counted; no permit can be written. */
  | { kind: 'bad'; problem: string };

const TRUE_WORDS = new Set(['true', '1', 'yes']);

function readReduceOnly(raw: string | undefined): boolean | null {
  if (raw === undefined || raw.trim() === '') return null;
  const word = raw.trim().toLowerCase();
  // false/0/no, and anything unreadable: not reduce-only, which the rules deny (fail closed).
  return TRUE_WORDS.has(word);
}

function readQty(fields: Record<string, string>): { qty: Amount | null; problem: string | null } {
  const raw = fields.qty ?? fields.close_qty;
  if (raw === undefined || raw.trim() === '') return { qty: null, problem: null };
  const qty = parseAmount(raw);
  if (qty === null || qty.isNegative()) {
    return { qty: null, problem: `qty ${JSON.stringify(raw)} is not a non-negative decimal` };
  }
  return { qty: qty.isZero() ? null : qty, problem: null };
}

function readTime(
  entryId: string,
  fields: Record<string, string>,
): Pick<Plan, 'timeMs' | 'timeSource'> {
  const ms = parseTimestampMs(fields.timestamp) ?? parseTimestampMs(fields.ts);
  return ms === null
    ? { timeMs: streamIdMs(entryId), timeSource: 'stream_id' }
    : { timeMs: ms, timeSource: 'plan' };
}

/** Reads one apply.plan entry. Total: never throws. */
export function parsePlan(entryId: string, fields: Record<string, string>): PlanParse {
  const planId = fields.plan_id?.trim();
  if (!isPlanId(planId)) {
    return {
      kind: 'bad',
      problem: `plan_id ${JSON.stringify(fields.plan_id ?? null)} is not a valid plan id`,
    };
  }
  const decision = (fields.decision ?? '').trim().toUpperCase();
  if (decision !== 'EXECUTE') return { kind: 'ignored', planId, decision };

  const symbol = (fields.symbol ?? '').trim().toUpperCase();
  const action = fields.action?.trim().toUpperCase() || null;
  const { qty, problem } = readQty(fields);
  return {
    kind: 'execute',
    plan: {
      entryId,
      planId,
      symbol,
      symbolValid: isSymbol(symbol),
      action,
      closeFraction: action === null ? null : (ACTION_FRACTIONS.get(action) ?? null),
      explicitQty: qty,
      qtyProblem: problem,
      reduceOnly: readReduceOnly(fields.reduceOnly ?? fields.reduce_only),
      ...readTime(entryId, fields),
    },
  };
}
