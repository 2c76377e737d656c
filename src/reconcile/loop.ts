/**
 * The engine's schedule: every cadence, drift-free (cycle n starts at start + n × cadence),
 * never overlapping. A cycle that runs past its slot skips the missed slots (counted as an
 * overrun) instead of bunching up. Stopping (SIGTERM/SIGINT) lets the current cycle finish.
 */
import type { Clock } from '../domain/time.js';
import { type Sleeper, systemScheduler } from '../runtime/clock.js';

/**
 * Wakes the loop between slots (the brain published that a position moved), so a drift is
 * seen in milliseconds instead of at the next slot. A woken cycle is an extra cycle: it
 * does not consume the next slot, so the cadence guarantee is unchanged.
 */
export class Waker {
  private pending = false;
  private listener: (() => void) | null = null;

  wake(): void {
    this.pending = true;
    this.listener?.();
  }

  /** Whether a wake-up arrived since the last call (and clears it). */
  take(): boolean {
    const pending = this.pending;
    this.pending = false;
    return pending;
  }

  /** Sleeps `ms`, ending early on abort or on a wake-up; true when woken. */
  async sleep(sleeper: Sleeper, ms: number, signal: AbortSignal): Promise<boolean> {
    if (this.pending) return true;
    const early = new AbortController();
    const onAbort = (): void => early.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    this.listener = onAbort;
    try {
      await sleeper.sleep(ms, early.signal);
    } finally {
      this.listener = null;
      signal.removeEventListener('abort', onAbort);
    }
    return this.pending && !signal.aborted;
  }
}

export interface LoopOptions {
  tick: () => Promise<unknown>;
  clock: Clock;
  cadenceMs: number;
  signal: AbortSignal;
  /** How the loop waits for its next slot (default: the system's timers). */
  sleeper?: Sleeper;
  /** Called when a cycle ran past one or more slots; `missed` slots were skipped. */
  onOverrun?: (missed: number) => void;
  /** Optional early wake-ups between slots. */
  waker?: Waker;
  /** Woken cycles start at least this long after the previous cycle ended (default 50 ms). */
  minWakeGapMs?: number;
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

/**
 * Runs `tick` every cadence until `signal` aborts; resolves after the last cycle. With a
 * `waker`, a wake-up between slots runs an extra cycle at once (at most one per
 * `minWakeGapMs`), and the next slot still runs on time.
 */
export async function runLoop(options: LoopOptions): Promise<void> {
  const sleeper = options.sleeper ?? systemScheduler;
  const { clock, cadenceMs, signal, waker } = options;
  const minGapMs = Math.min(options.minWakeGapMs ?? 50, cadenceMs / 2);
  const start = clock.nowMs();
  let slot = 0;
  let extra = false;
  while (!signal.aborted) {
    waker?.take(); // this cycle reads everything written so far
    await options.tick();
    const now = clock.nowMs();
    const next = nextSlot(start, cadenceMs, extra ? slot : slot + 1, now);
    if (next.missed > 0 && !extra) options.onOverrun?.(next.missed);
    slot = next.slot;
    if (signal.aborted) break;
    const dueMs = start + slot * cadenceMs;
    if (!waker) {
      await sleeper.sleep(dueMs - now, signal);
      continue;
    }
    extra = await waker.sleep(sleeper, dueMs - now, signal);
    if (extra) {
      const gap = now + minGapMs - clock.nowMs();
      if (gap > 0) await sleeper.sleep(Math.min(gap, dueMs - clock.nowMs()), signal);
      if (clock.nowMs() >= dueMs) extra = false; // the slot itself is due: a normal cycle
    }
  }
}
