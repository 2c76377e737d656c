/**
 * The per-key outcomes of a batched script's `{status="ok", keys, …}` reply: each list in the
 * reply names 1-based KEYS indices (`[i, …]` or `[{i, …}, …]`), every key at most once, and
 * a key no list names had the default outcome. Pure.
 */

/** A whole number ≥ 0. */
export function isCount(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0;
}

/** A list the script left out when empty (cjson cannot tell an empty list from `{}`). */
export function listOf(value: unknown): unknown[] | null {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : null;
}

/** Outcomes placed by KEYS index, each at most once. */
export class IndexedOutcomes<T> {
  private readonly outcomes: (T | undefined)[];

  constructor(readonly count: number) {
    this.outcomes = Array.from({ length: count });
  }

  /** Places key `i`'s outcome; false when `i` is out of range or already placed. */
  place(i: unknown, outcome: T): boolean {
    if (!Number.isInteger(i) || (i as number) < 1 || (i as number) > this.count) return false;
    if (this.outcomes[(i as number) - 1] !== undefined) return false;
    this.outcomes[(i as number) - 1] = outcome;
    return true;
  }

  /** Every key's outcome, `fallback` for the keys no list named. */
  all(fallback: T): T[] {
    return this.outcomes.map((o) => o ?? fallback);
  }
}
