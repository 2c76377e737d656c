/**
 * Plan → permit latency samples and their percentiles (nearest rank). Pure.
 */
export interface LatencySummary {
  count: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/** Nearest-rank percentile of an ascending array; null when empty. */
export function percentile(sortedAsc: readonly number[], p: number): number | null {
  if (sortedAsc.length === 0) return null;
  const rank = Math.ceil((p / 100) * sortedAsc.length);
  const index = Math.min(sortedAsc.length - 1, Math.max(0, rank - 1));
  return sortedAsc[index] ?? null;
}

/** Keeps the last `capacity` samples (a bounded window for a long-running sim). */
export class LatencyWindow {
  readonly #samples: number[] = [];
  #total = 0;

  constructor(private readonly capacity = 100_000) {}

  add(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.#total += 1;
    this.#samples.push(ms);
    if (this.#samples.length > this.capacity) this.#samples.shift();
  }

  summary(): LatencySummary {
    const sorted = [...this.#samples].sort((a, b) => a - b);
    return {
      count: this.#total,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.at(-1) ?? null,
    };
  }
}
