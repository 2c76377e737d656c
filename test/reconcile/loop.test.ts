/**
 * The schedule, with a manual clock and a sleeper that only moves that clock: drift-free
 * slots, skipped slots counted as overruns, never overlapping, and a stop that lets the
 * current cycle finish.
 */
import { describe, expect, it } from 'vitest';
import { Waker, nextSlot, runLoop } from '../../src/reconcile/loop.js';
import type { Sleeper } from '../../src/runtime/clock.js';
import { ManualClock } from '../helpers/manual-time.js';

function fakeSleeper(clock: ManualClock, sleeps: number[]): Sleeper {
  return {
    sleep: (ms) => {
      sleeps.push(ms);
      clock.advance(ms);
      return Promise.resolve();
    },
  };
}

describe('nextSlot', () => {
  it('keeps the next slot when the cycle ended in time', () => {
    expect(nextSlot(0, 1000, 1, 999)).toEqual({ slot: 1, missed: 0 });
    expect(nextSlot(0, 1000, 1, 1000)).toEqual({ slot: 1, missed: 0 });
  });
  it('skips the slots a long cycle ran over', () => {
    expect(nextSlot(0, 1000, 1, 1001)).toEqual({ slot: 2, missed: 1 });
    expect(nextSlot(0, 1000, 1, 3500)).toEqual({ slot: 4, missed: 3 });
  });
});

describe('runLoop', () => {
  it('starts cycles at start + n × cadence regardless of cycle length (no drift)', async () => {
    const clock = new ManualClock(10_000);
    const starts: number[] = [];
    const sleeps: number[] = [];
    const controller = new AbortController();
    await runLoop({
      clock,
      cadenceMs: 1000,
      signal: controller.signal,
      sleeper: fakeSleeper(clock, sleeps),
      tick: () => {
        starts.push(clock.ms);
        clock.advance(137); // the cycle's own duration
        if (starts.length === 5) controller.abort();
        return Promise.resolve();
      },
    });
    expect(starts).toEqual([10_000, 11_000, 12_000, 13_000, 14_000]);
    expect(sleeps).toEqual([863, 863, 863, 863]);
  });

  it('skips missed slots after an overrun and counts it', async () => {
    const clock = new ManualClock(0);
    const starts: number[] = [];
    const overruns: number[] = [];
    const controller = new AbortController();
    await runLoop({
      clock,
      cadenceMs: 1000,
      signal: controller.signal,
      sleeper: fakeSleeper(clock, []),
      onOverrun: (missed) => overruns.push(missed),
      tick: () => {
        starts.push(clock.ms);
        clock.advance(starts.length === 2 ? 2500 : 10);
        if (starts.length === 4) controller.abort();
        return Promise.resolve();
      },
    });
    expect(starts).toEqual([0, 1000, 4000, 5000]);
    expect(overruns).toEqual([2]);
  });

  it('never overlaps cycles and finishes the running cycle when stopped', async () => {
    const clock = new ManualClock(0);
    let running = 0;
    let maxRunning = 0;
    let finished = 0;
    const controller = new AbortController();
    await runLoop({
      clock,
      cadenceMs: 10,
      signal: controller.signal,
      sleeper: fakeSleeper(clock, []),
      tick: async () => {
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        if (finished === 2) controller.abort(); // SIGTERM arrives mid-cycle
        await new Promise((r) => setTimeout(r, 1));
        clock.advance(15);
        running -= 1;
        finished += 1;
      },
    });
    expect(maxRunning).toBe(1);
    expect(finished).toBe(3);
  });
});

describe('runLoop with a waker (snapshot changes between slots)', () => {
  /** Moves the manual clock; a scheduled wake-up inside a sleep ends it at that time. */
  function wakingSleeper(clock: ManualClock, waker: Waker, wakeAt: number[]): Sleeper {
    return {
      sleep: (ms, signal) => {
        const until = clock.ms + Math.max(0, ms);
        const next = wakeAt[0];
        if (!signal?.aborted && next !== undefined && next >= clock.ms && next < until) {
          wakeAt.shift();
          clock.ms = next;
          waker.wake();
        } else clock.ms = until;
        return Promise.resolve();
      },
    };
  }

  it('runs an extra cycle at once when woken, and the next slot still runs on time', async () => {
    const clock = new ManualClock(0);
    const waker = new Waker();
    const starts: number[] = [];
    const overruns: number[] = [];
    const controller = new AbortController();
    await runLoop({
      clock,
      cadenceMs: 1000,
      signal: controller.signal,
      waker,
      sleeper: wakingSleeper(clock, waker, [400]),
      onOverrun: (missed) => overruns.push(missed),
      tick: () => {
        starts.push(clock.ms);
        clock.advance(100);
        if (starts.length === 4) controller.abort();
        return Promise.resolve();
      },
    });
    expect(starts).toEqual([0, 400, 1000, 2000]);
    expect(overruns).toEqual([]);
  });

  it('a wake-up during a cycle runs one more cycle after the minimum gap', async () => {
    const clock = new ManualClock(0);
    const waker = new Waker();
    const starts: number[] = [];
    const controller = new AbortController();
    await runLoop({
      clock,
      cadenceMs: 1000,
      signal: controller.signal,
      waker,
      minWakeGapMs: 50,
      sleeper: wakingSleeper(clock, waker, []),
      tick: () => {
        starts.push(clock.ms);
        clock.advance(100);
        if (starts.length === 1) waker.wake(); // a snapshot changed while we were reading
        if (starts.length === 3) controller.abort();
        return Promise.resolve();
      },
    });
    expect(starts).toEqual([0, 150, 1000]);
  });
});
