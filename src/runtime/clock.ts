/**
 * Time for the services: the one place that reads the wall clock and starts timers.
 *
 * Components never call `Date.now()`, `setTimeout` or `setInterval` themselves: they
 * receive a `Clock` (src/domain/time.ts, "what time is it") and a `Scheduler` ("call me
 * back later", "wait, unless stopped") from their composition root, which passes
 * `systemClock` and `systemScheduler` from here. Tests pass a manual clock and scheduler
 * (test/helpers/manual-time.ts) and move time themselves.
 */
import type { Clock } from '../domain/time.js';

export type { Clock } from '../domain/time.js';

/** A callback scheduled with `Scheduler.after` or `every`. */
export interface Timer {
  /** Stops the callback from running (again). Safe to call more than once. */
  cancel(): void;
}

export interface Scheduler {
  /** Calls `fn` once, `ms` from now (at once for 0 or less). */
  after(ms: number, fn: () => void): Timer;
  /** Calls `fn` every `ms` until cancelled. */
  every(ms: number, fn: () => void): Timer;
  /** Resolves after `ms`, or as soon as `signal` aborts (at once when it already has). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** What a loop needs to wait between iterations. */
export type Sleeper = Pick<Scheduler, 'sleep'>;

export const systemClock: Clock = { nowMs: () => Date.now() };

export const systemScheduler: Scheduler = {
  after(ms, fn) {
    const timer = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(timer) };
  },
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    return { cancel: () => clearInterval(timer) };
  },
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    }),
};

export type Settled<T> = { settled: true; value: T } | { settled: false };

/**
 * `promise`'s value if it settles within `ms`, else `{ settled: false }` (the promise keeps
 * running). A rejection within `ms` rejects. The timer never outlives the call.
 */
export async function settleWithin<T>(
  scheduler: Scheduler,
  promise: Promise<T>,
  ms: number,
): Promise<Settled<T>> {
  let timer: Timer | undefined;
  const late = new Promise<Settled<T>>((resolve) => {
    timer = scheduler.after(ms, () => resolve({ settled: false }));
  });
  try {
    return await Promise.race([
      promise.then((value): Settled<T> => ({ settled: true, value })),
      late,
    ]);
  } finally {
    timer?.cancel();
  }
}
