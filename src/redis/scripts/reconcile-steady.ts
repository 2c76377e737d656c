/**
 * `reconcile_steady.lua`: the steady-OK fast path (SPEC §7) — liveness and amounts of a
 * batch of symbols that were OK, are still OK and have no hold and no owner marker, one
 * HSET each, in one call. Every symbol is its own unit: a wrong-typed state key fails alone.
 * Fenced (SPEC §11): the `reconcile` fence is the LAST key, the writer's epoch in ARGV; a
 * `fenced` (or a wrong-typed fence key's `wrong_type`) reply refuses the whole batch.
 */
import type { Keys } from '../keys.js';
import { type FencedResult, epochArg } from './fencing.js';
import { decodeFencedBatch, placeWrongType } from './fenced-batches.js';
import { IndexedOutcomes, isCount, listOf } from './indexed-outcomes.js';
import { type ScriptReply, type ScriptSpec, type WrongTypeResult } from './script.js';

/** One steady symbol: the values of the state fields, in the order of `fields`. */
export interface SteadyRow {
  symbol: string;
  values: readonly string[];
}

export interface SteadyArgs {
  keys: Keys;
  /** The writer's epoch (SPEC §11), taken from its term at write time. */
  epoch: number;
  nowMs: number;
  /** The state fields every row sets. */
  fields: readonly string[];
  rows: readonly SteadyRow[];
}

export type SteadyOutcome =
  | { kind: 'written' }
  /** The state key holds another type: nothing written for this symbol. */
  | { kind: 'wrong_type'; key: string; found: string }
  /** Redis refused the row for another reason (its error text). */
  | { kind: 'failed'; problem: string };

const WRITTEN: SteadyOutcome = { kind: 'written' };

/**
 * One outcome per row, in KEYS order; or the whole batch refused (nothing written): below
 * the fence, or the fence key of the wrong type.
 */
export const reconcileSteady: ScriptSpec<
  SteadyArgs,
  SteadyOutcome[] | FencedResult | WrongTypeResult
> = {
  name: 'reconcile_steady',
  version: 3,
  keyCount: 'variable',
  encode: (a) => ({
    keys: [...a.rows.map((r) => a.keys.reconcileState(r.symbol)), a.keys.fence('reconcile')],
    argv: {
      epoch: epochArg(reconcileSteady, a.epoch),
      ts: String(Math.floor(a.nowMs / 1000)),
      now_ms: String(a.nowMs),
      fields: a.fields,
      rows: a.rows.map((r) => r.values),
    },
  }),
  decode: (reply) => decodeFencedBatch(reconcileSteady, reply, decodeOutcomes),
};

/** The outcomes of an `ok` reply, or null when they do not account for every key once. */
function decodeOutcomes(reply: ScriptReply): SteadyOutcome[] | null {
  const { keys: count, written } = reply;
  if (!isCount(count) || !isCount(written)) return null;
  const outcomes = new IndexedOutcomes<SteadyOutcome>(count);
  const wrongType = listOf(reply.wrong_type);
  const failed = listOf(reply.failed);
  if (wrongType === null || failed === null) return null;
  if (!placeWrongType(outcomes, wrongType)) return null;
  for (const entry of failed) {
    if (typeof entry !== 'object' || entry === null) return null;
    const { i, error } = entry as Record<string, unknown>;
    if (typeof error !== 'string') return null;
    if (!outcomes.place(i, { kind: 'failed', problem: error })) return null;
  }
  if (written !== count - wrongType.length - failed.length) return null;
  return outcomes.all(WRITTEN);
}
