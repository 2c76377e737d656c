/**
 * The engine's schedule: every cadence, drift-free (cycle n starts at start + n × cadence),
 * never overlapping. A cycle that runs past its slot skips the missed slots (counted as an
 * overrun) instead of bunching up. Stopping (SIGTERM/SIGINT) lets the current cycle finish.
 */
import type { Clock } from '../domain/time.js';

export interface Sleeper {
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realSleeper: Sleeper = {
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal.addEventListener('abort', done, { once: true });
    }),
};

export interface LoopOptions {
  tick: () => Promise<unknown>;
  clock: Clock;
  cadenceMs: number;
  signal: AbortSignal;
  sleeper?: Sleeper;
  /** Called when a cycle ran past one or more slots; `missed` slots were skipped. */
  onOverrun?: (missed: number) => void;
}

/** The slot to run next after a cycle ended at `nowMs`, and how many slots were missed. */
export function nextSlot(
  startMs: number,
  cadenceMs: number,
  slot: number,
  nowMs: number,
): { slot: number; missed: number } {
  const due = startMs + slot * cadenceMs;
  if (nowMs <= due) return { slot, missed: 0 };
  const next = Math.ceil((nowMs - startMs) / cadenceMs);
  return { slot: next, missed: next - slot };
}

/** Runs `tick` every cadence until `signal` aborts; resolves after the last cycle. */
export async function runLoop(options: LoopOptions): Promise<void> {
  const sleeper = options.sleeper ?? realSleeper;
  const start = options.clock.nowMs();
  let slot = 0;
  while (!options.signal.aborted) {
    await options.tick();
    const now = options.clock.nowMs();
    const next = nextSlot(start, options.cadenceMs, slot + 1, now);
    if (next.missed > 0) options.onOverrun?.(next.missed);
    slot = next.slot;
    if (options.signal.aborted) break;
    await sleeper.sleep(start + slot * options.cadenceMs - now, options.signal);
  }
}
