/**
 * Who holds a symbol (SPEC §7, "Holds"), decided from what a reader sees of the hold key
 * and the engine's owner marker (`P:posguard:hold:owner:SYM`), read in the same round trip:
 *
 * - `p34`       the engine's own hold: it set it and re-arms it every cycle.
 * - `shared`    a hold someone else set that the engine also needs (it raises the TTL, never
 *               lowers it, and never deletes it).
 * - `operator`  a hold the engine did not set (CLI, `redis-cli SETEX`, another tool).
 * - `unreadable` the marker could not be read (a key of the wrong type).
 *
 * The rule mirrors the header of `src/redis/lua/reconcile_commit.lua`, the only writer of
 * the marker. It is one pure function so that readers (web page, CLI, brain) agree, and so
 * that a change of the ownership rule (the engine recognising its hold by the exact
 * PEXPIRETIME it recorded) is made here once. `expireTimeMs` is read now for that reason.
 */

export type HoldOwner = 'p34' | 'shared' | 'operator' | 'unreadable';

export interface HoldFacts {
  /** The hold key exists (any type: a value under the hold key is a hold). */
  present: boolean;
  /** PEXPIRETIME of the hold key in ms since the epoch; -1 no expiry; null unknown. */
  expireTimeMs: number | null;
  /** The owner marker's value; null when absent; undefined when it could not be read. */
  marker: string | null | undefined;
}

/** The hold's owner, or null when there is no hold. */
export function decideHoldOwner(facts: HoldFacts): HoldOwner | null {
  if (!facts.present) return null;
  if (facts.marker === undefined) return 'unreadable';
  if (facts.marker === 'p34') return 'p34';
  if (facts.marker === 'shared') return 'shared';
  // No marker, an empty one or one this reader does not know: nobody vouches that the
  // engine set this hold, so it is not the engine's (it would never clear it).
  return 'operator';
}
