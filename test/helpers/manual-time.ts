/**
 * Time the test moves: a clock that reads `ms`, and a scheduler whose timers and sleeps
 * run only when the test advances it. Pass one `ManualClock` as both `clock` and
 * `scheduler` of a component; nothing happens "later" unless the test says so.
 *
 * - `advance(ms)` moves time and runs every timer that falls due, in time order, at its
 *   own time, synchronously (what a sleeping loop continues with runs afterwards).
 * - `pass(ms)` does the same one timer at a time, letting promise continuations run
 *   between them, so a loop that sleeps again is woken again within the same `pass`.
 */
import type { Clock } from '../../src/domain/time.js';
import type { Scheduler, Timer } from '../../src/runtime/clock.js';

interface Scheduled {
  dueMs: number;
  seq: number;
  everyMs: number | null;
  fn: () => void;
}

/** Lets queued promise continuations and ready I/O callbacks run. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class ManualClock implements Clock, Scheduler {
  private timers: Scheduled[] = [];
  private seq = 0;

  constructor(public ms: number) {}

  nowMs(): number {
    return this.ms;
  }

  after(ms: number, fn: () => void): Timer {
    return this.add(this.ms + Math.max(0, ms), null, fn);
  }

  every(ms: number, fn: () => void): Timer {
    if (!(ms > 0)) throw new Error(`every(${ms}): the period must be positive`);
    return this.add(this.ms + ms, ms, fn);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      const done = (): void => {
        timer.cancel();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = this.after(ms, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Due times of the timers still waiting, soonest first. */
  pending(): number[] {
    return this.sorted().map((t) => t.dueMs);
  }

  /** Moves time forward by `ms`, running each timer that falls due at its own time. */
  advance(ms: number): void {
    const target = this.ms + ms;
    for (let next = this.nextDue(target); next; next = this.nextDue(target)) this.fire(next);
    this.ms = target;
  }

  /** Like `advance`, letting continuations run after each timer (a woken loop sleeps again). */
  async pass(ms: number): Promise<void> {
    const target = this.ms + ms;
    await yieldToEventLoop();
    for (let next = this.nextDue(target); next; next = this.nextDue(target)) {
      this.fire(next);
      await yieldToEventLoop();
    }
    this.ms = target;
  }

  private add(dueMs: number, everyMs: number | null, fn: () => void): Timer {
    const entry: Scheduled = { dueMs, seq: (this.seq += 1), everyMs, fn };
    this.timers.push(entry);
    return { cancel: () => void (this.timers = this.timers.filter((t) => t !== entry)) };
  }

  private sorted(): Scheduled[] {
    return [...this.timers].sort((a, b) => a.dueMs - b.dueMs || a.seq - b.seq);
  }

  private nextDue(target: number): Scheduled | undefined {
    const first = this.sorted()[0];
    return first !== undefined && first.dueMs <= target ? first : undefined;
  }

  private fire(timer: Scheduled): void {
    this.ms = Math.max(this.ms, timer.dueMs);
    if (timer.everyMs === null) this.timers = this.timers.filter((t) => t !== timer);
    else {
      timer.dueMs += timer.everyMs;
      timer.seq = this.seq += 1;
    }
    timer.fn();
  }
}
