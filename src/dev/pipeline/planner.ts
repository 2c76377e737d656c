/**
 * The simulated upstream planner and the P3.2 Governor stub (SPEC §5, §6).
 *
 * Each plan gets its Governor permit (`{"granted": true|false, ...}` with a TTL) and its
 * `apply.plan` entry in one MULTI, the permit first, as a real Governor answers before
 * the Apply Layer looks. `deny_fraction` of the plans are refused by the Governor so the
 * gate's `governor_denied` path runs too. A rate loop publishes close plans for the
 * symbols no scenario step has taken over; scenario steps publish their own.
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { Amount } from '../../domain/amount.js';
import type { Clock } from '../../domain/time.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { Keys } from '../../redis/keys.js';
import { CLOSE_ACTIONS, encodePlan } from './plan-fields.js';
import type { PlanBook, PlanRecord } from './plan-book.js';
import { toStreamArgs } from './result-shapes.js';

export interface PlannerOptions {
  redis: Redis;
  keys: Keys;
  book: PlanBook;
  clock: Clock;
  logger: Logger;
  symbols: readonly string[];
  /** Close plans per second across all symbols (0 = only scenario plans). */
  ratePerSec: number;
  /** Share of plans the Governor stub refuses, 0–1. */
  governorDenyFraction: number;
  governorTtlSec: number;
  /** Unique per run; every plan id starts with it. */
  runId: string;
  random?: () => number;
}

export interface PlanRequest {
  symbol: string;
  /** Action name; null with `qty` for an explicit size. */
  action: string | null;
  qty?: Amount;
  /** Scenario tag recorded in the plan book. */
  tag?: string;
  /** Force the Governor's answer (default: random by deny fraction). */
  governorGrant?: boolean;
}

/** Plans one timer tick may publish at most (rates above 200/s publish several per tick). */
const MAX_BURST = 50;

export class Planner {
  #seq = 0;
  #timer: NodeJS.Timeout | null = null;
  #cursor = 0;
  #failing = false;
  readonly #excluded = new Set<string>();
  readonly #random: () => number;

  constructor(private readonly options: PlannerOptions) {
    this.#random = options.random ?? Math.random;
  }

  start(): void {
    if (this.#timer || this.options.ratePerSec <= 0) return;
    const rate = this.options.ratePerSec;
    const everyMs = Math.max(5, Math.round(1000 / rate));
    // Above 200 plans/s a 5 ms timer publishes several plans per tick: as many as the rate
    // owes since the start (at most MAX_BURST at once, so a stalled loop does not flood).
    const startedMs = performance.now();
    let owed = 0;
    this.#timer = setInterval(() => {
      const due = Math.floor(((performance.now() - startedMs) * rate) / 1000) - owed;
      const count = Math.max(1, Math.min(MAX_BURST, due));
      owed += Math.max(count, due);
      for (let i = 0; i < count; i += 1) void this.#tick();
    }, everyMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** A scenario step takes a symbol over: the rate loop leaves it alone until released. */
  exclude(symbol: string): void {
    this.#excluded.add(symbol);
  }

  release(symbol: string): void {
    this.#excluded.delete(symbol);
  }

  /** Publishes one plan (Governor permit + apply.plan entry) and records it in the book. */
  async publish(request: PlanRequest): Promise<PlanRecord> {
    const { redis, keys, clock } = this.options;
    this.#seq += 1;
    const planId = `${this.options.runId}:${this.#seq}`;
    const granted = request.governorGrant ?? this.#random() >= this.options.governorDenyFraction;
    const nowMs = clock.nowMs();
    const governor = JSON.stringify({
      plan_id: planId,
      granted,
      reason: granted ? 'within_limits' : 'governor_limit_sim',
      ts_epoch: Math.floor(nowMs / 1000),
    });
    const fields = encodePlan({
      planId,
      symbol: request.symbol,
      action: request.action,
      ...(request.qty === undefined ? {} : { qty: request.qty }),
      timeMs: nowMs,
    });
    const record: PlanRecord = {
      planId,
      symbol: request.symbol,
      action: request.action,
      publishedMs: nowMs,
      publishedMono: performance.now(),
      permitMono: null,
      governorGranted: granted,
      tag: request.tag ?? null,
      permit: null,
      gate: null,
      order: null,
    };
    this.options.book.add(record);
    await redis
      .multi()
      .set(keys.permitGovernor(planId), governor, 'EX', Math.ceil(this.options.governorTtlSec))
      .xadd(keys.applyPlanStream, '*', ...toStreamArgs(fields))
      .exec();
    return record;
  }

  async #tick(): Promise<void> {
    const symbol = this.#nextSymbol();
    if (symbol === null) return;
    const action = CLOSE_ACTIONS[Math.floor(this.#random() * CLOSE_ACTIONS.length)] ?? 'PARTIAL_25';
    try {
      await this.publish({ symbol, action });
      if (this.#failing) this.options.logger.info('planner: publishing plans again');
      this.#failing = false;
    } catch (error) {
      if (!this.#failing)
        this.options.logger.warn({ err: errorMessage(error) }, 'planner: publish failed');
      this.#failing = true;
    }
  }

  #nextSymbol(): string | null {
    const { symbols } = this.options;
    for (let i = 0; i < symbols.length; i += 1) {
      const symbol = symbols[(this.#cursor + i) % symbols.length];
      if (symbol !== undefined && !this.#excluded.has(symbol)) {
        this.#cursor = (this.#cursor + i + 1) % symbols.length;
        return symbol;
      }
    }
    return null;
  }
}
