/**
 * The steady-OK fast path (SPEC §7): a symbol that was OK, is still OK, and has no hold and
 * no owner marker cannot change edge-wise, so it needs no commit script: only its liveness
 * (last_seen_ts, ts_ms) and amounts move. Such symbols — nearly all of them in steady state —
 * are written by `reconcile_steady.lua`, one call per batch of STEADY_BATCH symbols on the
 * cycle's write pipeline, instead of one HSET each.
 */
import type { ChainableCommander } from 'ioredis';
import type { Decision } from '../domain/drift.js';
import type { Keys } from '../redis/keys.js';
import { LuaScript } from '../redis/lua-script.js';
import { type CommitReply, STATE_FIELDS, type WrongTypeReply, stateValues } from './commit.js';
import type { SymbolReads } from './read.js';

export const reconcileSteadyScript = LuaScript.load('reconcile_steady');

/** Symbols per steady call (one call blocks Redis for about a millisecond). */
export const STEADY_BATCH = 500;

/** One steady symbol's write: its state key and the STATE_FIELDS values. */
export interface SteadyRow {
  kind: 'steady';
  stateKey: string;
  values: string[];
}

/**
 * Steady: OK now, OK (no reason, no episode, no holder) in the stored state, and no hold or
 * owner marker. Status, reason and since_ts are left as they are.
 */
export function isSteady(d: Decision, reads: SymbolReads): boolean {
  const s = reads.state;
  return (
    d.status === 'OK' &&
    d.reason === '' &&
    d.action === 'none' &&
    reads.hold === null &&
    reads.holdOwner === null &&
    s.status === 'OK' &&
    s.reason === '' &&
    (s.episode_reason ?? '') === '' &&
    (s.hold_by ?? '') === ''
  );
}

export function encodeSteady(keys: Keys, d: Decision): SteadyRow {
  return { kind: 'steady', stateKey: keys.reconcileState(d.symbol), values: stateValues(d) };
}

/** KEYS and ARGV of one `reconcile_steady` call. */
export function encodeSteadyBatch(
  rows: readonly SteadyRow[],
  nowMs: number,
): { keys: string[]; args: [string, string, string] } {
  return {
    keys: rows.map((r) => r.stateKey),
    args: [
      String(Math.floor(nowMs / 1000)),
      String(nowMs),
      JSON.stringify({ fields: STATE_FIELDS, rows: rows.map((r) => r.values) }),
    ],
  };
}

export function queueSteadyBatch(
  pipeline: ChainableCommander,
  rows: readonly SteadyRow[],
  nowMs: number,
): void {
  const { keys, args } = encodeSteadyBatch(rows, nowMs);
  reconcileSteadyScript.queue(pipeline, keys, args);
}

export const STEADY_REPLY: CommitReply = {
  code: 'ok',
  holdBy: '',
  newEpisode: false,
  events: 0,
  holdLost: false,
};

export type SteadyResult = CommitReply | WrongTypeReply | { code: 'error'; problem: string };

/** One refused row: `wrong_type <key> <type>`, or Redis' error text. */
function rowFailure(problem: string): SteadyResult {
  const [word, key, found, ...rest] = problem.split(' ');
  if (word === 'wrong_type' && key && found && rest.length === 0)
    return { code: 'wrong_type', key, found };
  return { code: 'error', problem };
}

/**
 * Decodes a `reconcile_steady` reply into one result per row: `{written, i, error, …}`.
 * Returns null when the reply does not account for every row exactly once.
 */
export function decodeSteadyReply(reply: unknown, rows: number): SteadyResult[] | null {
  if (!Array.isArray(reply) || reply.length % 2 !== 1) return null;
  const [written, ...failures] = reply as unknown[];
  if (typeof written !== 'number' || written + failures.length / 2 !== rows) return null;
  const results: SteadyResult[] = Array.from({ length: rows }, () => STEADY_REPLY);
  for (let k = 0; k < failures.length; k += 2) {
    const index = failures[k];
    const problem = failures[k + 1];
    if (
      typeof index !== 'number' ||
      index < 1 ||
      index > rows ||
      results[index - 1] !== STEADY_REPLY
    )
      return null;
    results[index - 1] = rowFailure(String(problem));
  }
  return results;
}
