/**
 * The engine's memory of evidence entries that justified a repair, or that a commit refused
 * as used or applied (SPEC §7: one fill justifies at most one repair). The markers in Redis
 * are the guard; this memory lets the next decision look for other evidence at once. Kept for
 * two evidence windows, like the markers.
 */
import type { Redis } from 'ioredis';
import type { EvidenceItem } from '../domain/evidence.js';
import { streamIdMs } from '../domain/identifiers.js';
import type { Keys } from '../redis/keys.js';

export class UsedEvidence {
  private readonly ids = new Set<string>();

  /** What the decisions read. */
  get set(): ReadonlySet<string> {
    return this.ids;
  }

  add(ids: Iterable<string>): void {
    for (const id of ids) this.ids.add(id);
  }

  /** Forgets everything (a new term rebuilds it from the markers in Redis). */
  clear(): void {
    this.ids.clear();
  }

  /** Forgets the entries older than `oldestMs`. */
  prune(oldestMs: number): void {
    for (const id of this.ids) if (streamIdMs(id) < oldestMs) this.ids.delete(id);
  }

  /** At start: which of the rebuilt window's results already carry their used marker. */
  async rebuild(redis: Redis, keys: Keys, fills: readonly EvidenceItem[]): Promise<void> {
    if (fills.length === 0) return;
    const pipeline = redis.pipeline();
    for (const fill of fills) pipeline.exists(keys.evidenceUsed(fill.entryId));
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([error, value], i) => {
      const fill = fills[i];
      if (fill && (error !== null || value === 1)) this.ids.add(fill.entryId);
    });
  }
}
