/**
 * Waiting in tests: for a condition, with a bounded poll (never a timing assertion), and
 * a plain `sleep` for pacing what a test injects (a late permit, an outage's length) —
 * never to let something happen before an assertion: wait for it instead.
 */

/** What a probe returns while the condition does not hold yet. */
type NotYet = null | undefined | false;

export interface WaitOptions {
  /** A generous deadline (default 15 s); the wait throws after it. */
  timeoutMs?: number;
  /** How often the probe runs (default 10 ms). */
  everyMs?: number;
  /** What was awaited, for the error (default: the probe's source). */
  what?: string | (() => string);
}

/**
 * Polls `probe` until it returns something other than null, undefined or false, and
 * resolves with that value. Throws after the deadline, naming what it waited for; an
 * error thrown by the probe ends the wait at once.
 */
export async function waitFor<T>(
  probe: () => T | NotYet | Promise<T | NotYet>,
  options: WaitOptions | number = {},
  everyMs?: number,
): Promise<T> {
  const o: WaitOptions = typeof options === 'number' ? { timeoutMs: options, everyMs } : options;
  const timeoutMs = o.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const what =
        typeof o.what === 'function' ? o.what() : (o.what ?? probe.toString().slice(0, 200));
      throw new Error(`condition not met within ${timeoutMs} ms: ${what}`);
    }
    await sleep(o.everyMs ?? 10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
