/**
 * The steady-OK fast path (SPEC §7): a symbol that was OK, is still OK, and has no hold and
 * no owner marker cannot change edge-wise, so it needs no commit script: only its liveness
 * (last_seen_ts, ts_ms) and amounts move. Such symbols — nearly all of them in steady state —
 * are written by `reconcile_steady.lua` (spec: src/redis/scripts/reconcile-steady.ts), one
 * call per batch of STEADY_BATCH symbols on the cycle's write pipeline, instead of one HSET
 * each.
 */
import type { Decision } from '../domain/drift.js';
import type { CommitReply } from '../redis/scripts/reconcile-commit.js';
import type { SteadyRow } from '../redis/scripts/reconcile-steady.js';
import { stateValues } from './commit.js';
import type { SymbolReads } from './read.js';

/** Symbols per steady call (one call blocks Redis for about a millisecond). */
export const STEADY_BATCH = 500;

/**
 * Steady: OK now, OK (no reason, no episode, no holder) in the stored state, and no hold and
 * no owner marker — a marker that could not be read (a key of another type) is not "none":
 * that symbol goes through the commit script, which refuses the key (fail closed). Status,
 * reason and since_ts are left as they are.
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

export function steadyRow(d: Decision): SteadyRow {
  return { symbol: d.symbol, values: stateValues(d) };
}

/** What a written steady row means for the symbol: OK, no holder, no event. */
export const STEADY_REPLY: CommitReply = {
  code: 'ok',
  holdBy: '',
  newEpisode: false,
  events: 0,
  holdLost: false,
};
