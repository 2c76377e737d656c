/**
 * A steady stream of plans on `apply.plan`, the way the planner writes them
 * (pipeline/plan-fields.ts), and the P3.3 permits the brains answer them with (read with
 * GET, never consumed): for the HA figures (bench/ha/) and the process tests
 * (test/ha-process/) that must show what a fault did to the permits issued meanwhile.
 * Permits live P33_PERMIT_TTL (60 s): the stream reads them while it runs, so a run of
 * minutes loses none.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../redis/keys.js';
import { encodePlan } from './pipeline/plan-fields.js';

export interface PlanOutcome {
  planId: string;
  symbol: string;
  /** Wall time just before the XADD. */
  addedMs: number;
  allow: boolean;
  /** The first failing reason of a deny; null on allow. */
  reason: string | null;
  /** Every failing check of a deny (`details.failed[].reason`). */
  failed: string[];
}

export interface PlanStreamRun {
  sent: number;
  xaddErrors: number;
  /** Every plan answered, in the order the answers were read. */
  outcomes: PlanOutcome[];
  /** Plans still without a permit when `stop()` gave up waiting. */
  unanswered: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Plans at `perSec` (paced on a schedule, not sleep-after-send), round robin over the
 * symbols; every `readEveryMs` the permits of the plans still unanswered are read.
 * `stop()` waits up to `settleMs` for the last answers; plans still without a permit are
 * `unanswered`.
 */
export class PlanStream {
  private readonly pending = new Map<string, { symbol: string; addedMs: number }>();
  private readonly done: PlanOutcome[] = [];
  private stopping = false;
  private sender: Promise<void> | null = null;
  private reader: Promise<void> | null = null;
  private sent = 0;
  private xaddErrors = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly symbols: readonly string[],
    private readonly perSec: number,
    private readonly tag: string,
    private readonly readEveryMs = 1000,
  ) {}

  start(): void {
    this.sender ??= this.send();
    this.reader ??= this.readLoop();
  }

  async stop(settleMs = 10_000): Promise<PlanStreamRun> {
    this.stopping = true;
    await this.sender;
    await this.reader;
    const deadline = Date.now() + settleMs;
    while (this.pending.size > 0 && Date.now() < deadline) {
      await this.readOnce();
      if (this.pending.size > 0) await sleep(200);
    }
    return {
      sent: this.sent,
      xaddErrors: this.xaddErrors,
      outcomes: [...this.done],
      unanswered: this.pending.size,
    };
  }

  private async send(): Promise<void> {
    const start = Date.now();
    for (let i = 0; !this.stopping; i += 1) {
      const due = start + (i * 1000) / this.perSec;
      if (due > Date.now()) await sleep(due - Date.now());
      const symbol = this.symbols[i % this.symbols.length] as string;
      const planId = `${this.tag}-${i}`;
      const addedMs = Date.now();
      const fields = encodePlan({ planId, symbol, action: 'CLOSE_PARTIAL_25', timeMs: addedMs });
      this.pending.set(planId, { symbol, addedMs });
      this.sent += 1;
      this.redis
        .xadd(this.keys.applyPlanStream, '*', ...Object.entries(fields).flat())
        .catch(() => {
          this.xaddErrors += 1;
          this.pending.delete(planId);
        });
    }
  }

  private async readLoop(): Promise<void> {
    while (!this.stopping) {
      await sleep(this.readEveryMs);
      await this.readOnce().catch(() => undefined);
    }
  }

  private async readOnce(): Promise<void> {
    const ids = [...this.pending.keys()];
    for (let i = 0; i < ids.length; i += 1000) {
      const batch = ids.slice(i, i + 1000);
      const pipeline = this.redis.pipeline();
      for (const id of batch) pipeline.get(this.keys.permitP33(id));
      const replies = (await pipeline.exec()) ?? [];
      batch.forEach((planId, k) => {
        const [error, raw] = replies[k] ?? [null, null];
        const plan = this.pending.get(planId);
        if (error || typeof raw !== 'string' || plan === undefined) return;
        this.pending.delete(planId);
        this.done.push(decodeOutcome(planId, plan, raw));
      });
    }
  }
}

function decodeOutcome(
  planId: string,
  plan: { symbol: string; addedMs: number },
  raw: string,
): PlanOutcome {
  const permit = JSON.parse(raw) as {
    allow?: unknown;
    reason?: unknown;
    details?: { failed?: { reason?: unknown }[] };
  };
  const allow = permit.allow === true;
  return {
    planId,
    ...plan,
    allow,
    reason: allow ? null : String(permit.reason),
    failed: (permit.details?.failed ?? []).map((f) => String(f.reason)),
  };
}

/** Denies naming the reconcile engine as down (first reason or any failing check). */
export function engineDownDenials(outcomes: readonly PlanOutcome[]): PlanOutcome[] {
  return outcomes.filter(
    (p) =>
      !p.allow &&
      (p.reason === 'reconcile_engine_down' || p.failed.includes('reconcile_engine_down')),
  );
}

/** Permits counted by outcome: `allow` or `deny:` the deny's first reason. */
export function outcomeCounts(outcomes: readonly PlanOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const p of outcomes) {
    const key = p.allow ? 'allow' : `deny:${p.reason ?? '?'}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
