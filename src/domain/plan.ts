/**
 * The apply.plan codec (SPEC §5): what a plan asks for, read tolerantly but never guessed.
 * The earlier system's real plans (`fixtures/peer_shapes.json`) shaped these rules.
 *
 * - Only `decision=EXECUTE` is evaluated; other decisions (SKIP, ERROR, HALT…) are
 *   acknowledged without a permit.
 * - A plan without a valid `plan_id` is bad input: there is no key to write a permit to.
 * - Actions map to close fractions exactly as listed (`PARTIAL_33` → 0.33). The explicit
 *   quantity is `close_qty` when > 0, else `qty` when > 0 — one writer puts the whole
 *   position in `qty` and the amount to close in `close_qty`, another always sends `"0.0"`
 *   (= not given) — and it wins over the fraction. An unknown action without a quantity is
 *   NOT a full close (LESSONS #12): the rules deny it with `unknown_action`.
 * - An opening action (`ENTRY_PROPOSED`) is never a close: the rules deny it
 *   `not_reduce_only`, whatever `reduceOnly` says.
 * - `ALL` (a lockdown signal's symbol) is not a symbol.
 * - Timestamps in seconds (int or float, `str(time.time())`) or ms.
 */
import { type Amount, Decimal, parseAmount } from './amount.js';
import { isPlanId, isSymbol, streamIdMs } from './identifiers.js';
import { parseTimestampMs } from './time.js';

const ONE = new Decimal(1);
const THREE_QUARTERS = new Decimal('0.75');
const HALF = new Decimal('0.5');
const QUARTER = new Decimal('0.25');
const THIRD = new Decimal('0.33');

/** Every action the planner may send and the share of the position it closes. */
export const ACTION_FRACTIONS: ReadonlyMap<string, Amount> = new Map([
  ['FULL_CLOSE_PROPOSED', ONE],
  ['CLOSE_FULL', ONE],
  ['FULL_CLOSE', ONE],
  ['PARTIAL_75', THREE_QUARTERS],
  ['CLOSE_PARTIAL_75', THREE_QUARTERS],
  ['PARTIAL_50', HALF],
  ['CLOSE_PARTIAL_50', HALF],
  ['PARTIAL_33', THIRD],
  ['PARTIAL_25', QUARTER],
  ['CLOSE_PARTIAL_25', QUARTER],
]);

/** Actions that open or add to a position: never a close, whatever the plan's flags say. */
export const OPENING_ACTIONS: ReadonlySet<string> = new Set(['ENTRY_PROPOSED', 'ENTRY']);

/** Words that pass the symbol pattern but name no symbol (a halt signal's "ALL"). */
const NOT_SYMBOLS: ReadonlySet<string> = new Set(['ALL']);

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
  /** The action opens a position (`ENTRY_PROPOSED`): denied `not_reduce_only`. */
  opening: boolean;
  /** A positive explicit quantity (close_qty, else qty), null when neither is > 0. */
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

/**
 * `close_qty` when > 0, else `qty` when > 0 (`"0.0"`/`"0"` mean "not given"). A value that
 * is present but not a non-negative decimal is a problem, whichever field it is in.
 */
function readQty(fields: Record<string, string>): { qty: Amount | null; problem: string | null } {
  let chosen: Amount | null = null;
  for (const name of ['close_qty', 'qty'] as const) {
    const raw = fields[name];
    if (raw === undefined || raw.trim() === '') continue;
    const qty = parseAmount(raw);
    if (qty === null || qty.isNegative()) {
      return { qty: null, problem: `${name} ${JSON.stringify(raw)} is not a non-negative decimal` };
    }
    if (chosen === null && qty.gt(0)) chosen = qty;
  }
  return { qty: chosen, problem: null };
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
      symbolValid: isSymbol(symbol) && !NOT_SYMBOLS.has(symbol),
      action,
      closeFraction: action === null ? null : (ACTION_FRACTIONS.get(action) ?? null),
      opening: action !== null && OPENING_ACTIONS.has(action),
      explicitQty: qty,
      qtyProblem: problem,
      reduceOnly: readReduceOnly(fields.reduceOnly ?? fields.reduce_only),
      ...readTime(entryId, fields),
    },
  };
}
