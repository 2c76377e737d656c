/**
 * The `apply.plan` entries the simulated planner writes (SPEC §5), and the malformed
 * entries the `malformed` scenario step injects into both input streams. Pure.
 */
import { type Amount, formatAmount } from '../../domain/amount.js';

/** Close actions the planner picks from; each maps to a fraction in the brain (SPEC §5). */
export const CLOSE_ACTIONS = [
  'CLOSE_PARTIAL_25',
  'CLOSE_PARTIAL_50',
  'CLOSE_PARTIAL_75',
  'PARTIAL_25',
  'PARTIAL_50',
  'FULL_CLOSE_PROPOSED',
] as const;

/** An action no table knows: the brain must deny it, never default it to a full close. */
export const UNKNOWN_ACTION = 'CLOSE_EVERYTHING_NOW';

export interface PlanSpec {
  planId: string;
  symbol: string;
  /** An action name, or null when `qty` gives an explicit size. */
  action: string | null;
  qty?: Amount;
  reduceOnly?: boolean;
  decision?: string;
  timeMs: number;
}

export function encodePlan(plan: PlanSpec): Record<string, string> {
  const fields: Record<string, string> = {
    plan_id: plan.planId,
    symbol: plan.symbol,
    decision: plan.decision ?? 'EXECUTE',
    reduceOnly: (plan.reduceOnly ?? true) ? 'true' : 'false',
    timestamp: String(plan.timeMs),
  };
  if (plan.action !== null) fields.action = plan.action;
  if (plan.qty !== undefined) fields.qty = formatAmount(plan.qty);
  return fields;
}

/** What the brain must do with a malformed plan entry. */
export type MalformedExpectation = 'bad_input' | 'deny';

export interface MalformedEntry {
  fields: Record<string, string>;
  expect: MalformedExpectation;
}

/**
 * Garbage for apply.plan. Entries without a usable plan id are bad input (acked and
 * counted); entries with a plan id but garbage elsewhere get a DENY permit. None may
 * crash the brain or produce an ALLOW.
 */
export function malformedPlanEntries(tag: string): MalformedEntry[] {
  const bad = (fields: Record<string, string>): MalformedEntry => ({ fields, expect: 'bad_input' });
  const deny = (fields: Record<string, string>): MalformedEntry => ({ fields, expect: 'deny' });
  return [
    bad({ garbage: 'true' }),
    bad({ plan_id: '', symbol: 'BTCUSDT', decision: 'EXECUTE', action: 'FULL_CLOSE' }),
    bad({ plan_id: `bad id with spaces ${tag}`, symbol: 'BTCUSDT', decision: 'EXECUTE' }),
    bad({ plan_id: 'x'.repeat(300), decision: 'EXECUTE' }),
    bad({ '\u0000': '\uffff', plan_id: '{"$gt":1}' }),
    deny({ plan_id: `${tag}-star`, symbol: 'BTC*', decision: 'EXECUTE', action: 'FULL_CLOSE' }),
    deny({ plan_id: `${tag}-qty`, symbol: 'BTCUSDT', decision: 'EXECUTE', qty: 'NaN' }),
  ];
}

/** Garbage for apply.result: every entry is bad input, never applied to a ledger. */
export function malformedResultEntries(tag: string, symbol: string): Record<string, string>[] {
  return [
    { executed: 'True', symbol, steps_results: '{not json', plan_id: `${tag}-r1` },
    { executed: 'maybe', symbol, filled_qty: '0.01', side: 'SELL', plan_id: `${tag}-r2` },
    { executed: 'true', symbol, filled_qty: '-5', side: 'SELL', plan_id: `${tag}-r3` },
    { executed: 'true', symbol, filled_qty: '1e999', side: 'SELL', plan_id: `${tag}-r4` },
    { executed: 'true', symbol, filled_qty: '0.01', side: 'SIDEWAYS', plan_id: `${tag}-r5` },
    { executed: 'true', symbol: 'not a symbol', filled_qty: '0.01', side: 'SELL' },
  ];
}
