/**
 * Watches for the P3.3 permit of every published plan from its own connection, so the
 * plan → permit latency is measured from outside the brain, the way the Apply Layer
 * experiences it: monotonic time from just before the XADD to the first read that
 * returns the permit. Polls the pending plans' keys in one pipelined GET every
 * `intervalMs` (1 ms by default; the resolution of the measurement) and sleeps when
 * nothing is pending.
 *
 * A permit the gate consumed before the probe saw it is recorded from the gate's
 * answer and left out of the latency numbers (reported as `probeMissed`).
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { decodePermit } from '../../domain/permit.js';
import type { Clock } from '../../domain/time.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { Keys } from '../../redis/keys.js';
import type { PermitSeen, PlanBook, PlanRecord } from './plan-book.js';

export interface PermitProbeOptions {
  redis: Redis;
  keys: Keys;
  book: PlanBook;
  clock: Clock;
  logger: Logger;
  intervalMs?: number;
  /** Plans older than this without a permit are no longer polled. */
  giveUpMs?: number;
}

const IDLE_MS = 200;

export class PermitProbe {
  #running = false;
  #loop: Promise<void> | null = null;
  #failing = false;
  /** Plans published and not yet answered, in publication order. */
  readonly #pending = new Map<string, PlanRecord>();
  #wake: (() => void) | null = null;

  constructor(private readonly options: PermitProbeOptions) {
    options.book.onAdd((plan) => {
      this.#pending.set(plan.planId, plan);
      this.#wake?.();
    });
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
    this.#loop = null;
  }

  async #run(): Promise<void> {
    const interval = this.options.intervalMs ?? 1;
    while (this.#running) {
      const polled = await this.#pollOnce();
      if (polled) await sleep(interval);
      else await this.#idle();
    }
  }

  /** Sleeps until a plan is published (or IDLE_MS passes). */
  async #idle(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, IDLE_MS);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
    this.#wake = null;
  }

  /** One pipelined read of every pending plan's permit; false when none was pending. */
  async #pollOnce(): Promise<boolean> {
    const { book, clock, keys, redis } = this.options;
    const pending = this.#takePending(clock.nowMs());
    if (pending.length === 0) return false;
    try {
      const pipeline = redis.pipeline();
      for (const plan of pending) pipeline.get(keys.permitP33(plan.planId));
      const replies = (await pipeline.exec()) ?? [];
      const nowMono = performance.now();
      const nowMs = clock.nowMs();
      replies.forEach(([error, value], index) => {
        const plan = pending[index];
        if (error || !plan) return;
        const seen = toSeen(value, nowMs);
        if (seen) book.recordPermit(plan.planId, seen, nowMono);
      });
      this.#recovered();
    } catch (error) {
      this.#failed(error);
    }
    return true;
  }

  /** Drops answered and abandoned plans; returns those still worth a read. */
  #takePending(nowMs: number): PlanRecord[] {
    const giveUpMs = this.options.giveUpMs ?? 10_000;
    const out: PlanRecord[] = [];
    for (const [id, plan] of this.#pending) {
      const timed = plan.permitMono !== null || plan.gate?.ok === true;
      if ((plan.permit !== null && timed) || nowMs - plan.publishedMs > giveUpMs)
        this.#pending.delete(id);
      else out.push(plan);
    }
    return out;
  }

  #failed(error: unknown): void {
    if (!this.#failing)
      this.options.logger.warn({ err: errorMessage(error) }, 'permit probe: read failed');
    this.#failing = true;
  }

  #recovered(): void {
    if (this.#failing) this.options.logger.info('permit probe: reading again');
    this.#failing = false;
  }
}

/** A permit value as the probe records it; null while absent. Unreadable permits deny. */
export function toSeen(value: unknown, nowMs: number): PermitSeen | null {
  const read = decodePermit(value);
  switch (read.kind) {
    case 'missing':
      return null;
    case 'invalid':
      return {
        allow: false,
        reason: 'invalid_permit',
        failed: ['invalid_permit'],
        seenMs: nowMs,
        via: 'probe',
      };
    case 'allow':
      return { allow: true, reason: null, failed: [], seenMs: nowMs, via: 'probe' };
    case 'deny': {
      const reason = String(read.permit.reason);
      return {
        allow: false,
        reason,
        failed: failedReasons(read.permit.details, reason),
        seenMs: nowMs,
        via: 'probe',
      };
    }
  }
}

/** `details.failed[].reason` of a deny (every failing check), always including `reason`. */
export function failedReasons(details: Record<string, unknown>, reason: string): string[] {
  const reasons = new Set<string>([reason]);
  if (Array.isArray(details.failed)) {
    for (const item of details.failed) {
      if (typeof item === 'object' && item !== null) {
        const r = (item as Record<string, unknown>).reason;
        if (typeof r === 'string') reasons.add(r);
      }
    }
  }
  return [...reasons];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
