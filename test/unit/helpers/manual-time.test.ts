/**
 * The manual clock and scheduler the loop tests drive: timers run only when the test moves
 * time, in time order, each at its own time; sleeps end on abort; every() repeats.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../helpers/manual-time.js';
import { settleWithin, systemScheduler } from '../../../src/runtime/clock.js';

describe('ManualClock', () => {
  it('runs due timers in time order, each at its own time, and nothing before its time', () => {
    const clock = new ManualClock(1000);
    const seen: string[] = [];
    clock.after(300, () => seen.push(`b@${clock.nowMs()}`));
    clock.after(100, () => seen.push(`a@${clock.nowMs()}`));
    clock.after(300, () => seen.push(`c@${clock.nowMs()}`));
    clock.advance(99);
    expect(seen).toEqual([]);
    clock.advance(250);
    expect(seen).toEqual(['a@1100', 'b@1300', 'c@1300']);
    expect(clock.nowMs()).toBe(1349);
    expect(clock.pending()).toEqual([]);
  });

  it('a cancelled timer never runs; every() repeats until cancelled', () => {
    const clock = new ManualClock(0);
    let once = 0;
    const ticks: number[] = [];
    clock.after(10, () => (once += 1)).cancel();
    const every = clock.every(100, () => ticks.push(clock.nowMs()));
    clock.advance(350);
    every.cancel();
    clock.advance(1000);
    expect(once).toBe(0);
    expect(ticks).toEqual([100, 200, 300]);
  });

  it('sleep resolves when time reaches it, or at once when aborted', async () => {
    const clock = new ManualClock(0);
    let woke = false;
    const sleeping = clock.sleep(500).then(() => (woke = true));
    clock.advance(499);
    await Promise.resolve();
    expect(woke).toBe(false);
    clock.advance(1);
    await sleeping;
    expect(woke).toBe(true);

    const stop = new AbortController();
    const aborted = clock.sleep(60_000, stop.signal);
    stop.abort();
    await aborted;
    expect(clock.pending()).toEqual([]);
    stop.abort();
    await clock.sleep(60_000, stop.signal); // already aborted: at once
  });

  it('pass() wakes a loop that sleeps again, as often as the time allows', async () => {
    const clock = new ManualClock(0);
    const wakes: number[] = [];
    const stop = new AbortController();
    const loop = (async () => {
      while (!stop.signal.aborted) {
        await clock.sleep(100, stop.signal);
        wakes.push(clock.nowMs());
      }
    })();
    await clock.pass(350);
    stop.abort();
    await loop;
    expect(wakes.slice(0, 3)).toEqual([100, 200, 300]);
  });
});

describe('settleWithin', () => {
  it('gives the value of a promise that settles in time, and clears its timer', async () => {
    const clock = new ManualClock(0);
    expect(await settleWithin(clock, Promise.resolve(7), 1000)).toEqual({
      settled: true,
      value: 7,
    });
    expect(clock.pending()).toEqual([]);
  });

  it('reports a promise that did not settle within the time', async () => {
    const clock = new ManualClock(0);
    const result = settleWithin(clock, new Promise<never>(() => undefined), 2000);
    clock.advance(2000);
    expect(await result).toEqual({ settled: false });
  });

  it('passes a rejection on', async () => {
    await expect(
      settleWithin(systemScheduler, Promise.reject(new Error('boom')), 1000),
    ).rejects.toThrow('boom');
  });
});
