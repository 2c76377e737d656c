/**
 * Waiting in tests: for a condition, with a bounded poll (never a timing assertion), and
 * a plain `sleep` for pacing what a test injects (a late permit, an outage's length) —
 * never to let something happen before an assertion: wait for it instead.
 */

/** What a probe returns while the condition does not hold yet. */
type NotYet = null | undefined | false;

/**
 * Polls `probe` every `everyMs` until it returns something other than null, undefined or
 * false, and resolves with that value. Throws after `timeoutMs` (a generous deadline).
 */
export async function waitFor<T>(
  probe: () => T | NotYet | Promise<T | NotYet>,
  timeoutMs = 15_000,
  everyMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `condition not met within ${timeoutMs} ms: ${probe.toString().slice(0, 200)}`,
      );
    }
    await sleep(everyMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
