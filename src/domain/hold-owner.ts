/**
 * Who holds a symbol (SPEC §7, "Holds"), decided from what a reader sees of the hold key
 * and the engine's owner marker (`P:posguard:hold:owner:SYM`), read in the same round trip:
 *
 * - `p34`       the engine's own hold: its marker is `p34:<E>` and the hold's PEXPIRETIME is
 *               still exactly E (the engine set or re-armed it and nobody wrote it since).
 * - `shared`    an operator's hold that the engine also needs (it raises the TTL, never
 *               lowers it, and never deletes it).
 * - `operator`  a hold the engine did not set (CLI, `redis-cli SETEX`, another tool) — and
 *               any hold whose expiry is not the one the engine recorded: an operator's
 *               `SETEX … 3600 1` on top of an engine hold is the operator's from then on. On
 *               Redis < 7.0 (no PEXPIRETIME, `expireTimeMs` null) no hold is provably p34.
 * - `unreadable` the marker could not be read (a key of the wrong type).
 *
 * The rule mirrors the header of `src/redis/lua/reconcile_commit.lua`, the only writer of
 * the marker (and `manual_hold.lua`'s previous_owner). It is one pure function so that
 * readers (web page, CLI, brain) agree.
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

/** The engine's marker: `p34:` followed by the hold's PEXPIRETIME in ms. */
export const ENGINE_MARKER = 'p34:';

/** The hold's owner, or null when there is no hold. */
export function decideHoldOwner(facts: HoldFacts): HoldOwner | null {
  if (!facts.present) return null;
  if (facts.marker === undefined) return 'unreadable';
  if (facts.marker === 'shared') return 'shared';
  if (facts.marker?.startsWith(ENGINE_MARKER) === true && facts.expireTimeMs !== null) {
    const recorded = Number(facts.marker.slice(ENGINE_MARKER.length));
    if (facts.expireTimeMs > 0 && recorded === facts.expireTimeMs) return 'p34';
  }
  // No marker, one this reader does not know, or an expiry someone else set: nobody vouches
  // that the engine set this hold as it is now, so it is not the engine's (it never clears it).
  return 'operator';
}
