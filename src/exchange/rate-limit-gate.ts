/**
 * Binance rate-limit state (SPEC §3, LESSONS #7): a 429 or 418 pauses EVERY call until
 * `Retry-After` has passed; calls during the pause fail fast without a request.
 * Also remembers the last `X-MBX-USED-WEIGHT-1M`.
 */
import type { Clock } from '../domain/time.js';

/** Used when a 429/418 arrives without a usable Retry-After header. */
export const DEFAULT_RETRY_AFTER_SEC = 60;

export interface PauseTransition {
  status: number;
  retryAfterMs: number;
  pausedUntilMs: number;
}

export class RateLimitGate {
  #pausedUntilMs = 0;
  #usedWeight1m: number | null = null;

  constructor(private readonly clock: Clock) {}

  pausedUntilMs(): number {
    return this.#pausedUntilMs;
  }

  /** Milliseconds left in the pause, 0 when calls may go out. */
  remainingMs(): number {
    return Math.max(0, this.#pausedUntilMs - this.clock.nowMs());
  }

  usedWeight1m(): number | null {
    return this.#usedWeight1m;
  }

  noteWeight(header: string | null): void {
    if (header === null) return;
    const value = Number(header.trim());
    if (Number.isInteger(value) && value >= 0) this.#usedWeight1m = value;
  }

  /** Starts (or extends) the pause after a 429/418. Returns the new pause. */
  pause(status: number, retryAfterHeader: string | null): PauseTransition {
    const retryAfterMs =
      parseRetryAfterMs(retryAfterHeader, this.clock.nowMs()) ?? DEFAULT_RETRY_AFTER_SEC * 1000;
    const until = this.clock.nowMs() + retryAfterMs;
    this.#pausedUntilMs = Math.max(this.#pausedUntilMs, until);
    return { status, retryAfterMs, pausedUntilMs: this.#pausedUntilMs };
  }
}

/** `Retry-After` is seconds (Binance) or an HTTP date; null when absent or unusable. */
export function parseRetryAfterMs(header: string | null, nowMs: number): number | null {
  if (header === null) return null;
  const text = header.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}
