/**
 * What the HA figures (takeover, fencing, cost) share: a private redis-server with the
 * machine it ran on, a steady plan stream whose permits are read while the run goes on
 * (permits live P33_PERMIT_TTL, 60 s: a run of minutes cannot read them all at the end),
 * summaries, and the counters the instances export.
 */
import type { Redis } from 'ioredis';
import { loadavg } from 'node:os';
import { encodePlan } from '../../src/dev/pipeline/plan-fields.js';
import { parseCounter } from '../../src/dev/demo/observer.js';
import type { HaCluster } from '../../src/dev/ha-cluster.js';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/dev/redis-server.js';
import type { Keys } from '../../src/redis/keys.js';
import { harnessClient, sleep } from '../environment.js';
import { type MachineInfo, describeMachine } from '../machine.js';
import { type Summary, roundSummary, summarize } from '../stats.js';

export { sleep };

export interface BenchRedis {
  server: EmbeddedRedis;
  /** The figure's own connection (reads, floors, MONITOR's parent). */
  admin: Redis;
  machine: MachineInfo;
  stop(): Promise<void>;
}

export async function startBenchRedis(name: string): Promise<BenchRedis> {
  const server = await startEmbeddedRedis();
  const admin = harnessClient(server.url, `bench-ha-${name}`);
  admin.on('error', () => undefined);
  const machine = await describeMachine(admin);
  return {
    server,
    admin,
    machine,
    stop: async () => {
      admin.disconnect();
      await server.stop();
    },
  };
}

export function loadNow(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}

/** Summary rounded to 1 decimal (milliseconds), null without samples. */
export function msSummary(samples: readonly number[]): Summary | null {
  return roundSummary(summarize(samples), 1);
}

/** The sum of every sample of a counter (all label sets), or of those whose labels contain `match`. */
export function counterSum(text: string, name: string, match = ''): number {
  let sum = 0;
  for (const [labels, value] of parseCounter(text, name)) if (labels.includes(match)) sum += value;
  return sum;
}

/** Scrapes `id`; null when its endpoint does not answer (killed, paused). */
export async function scrapeOrNull(cluster: HaCluster, id: string): Promise<string | null> {
  try {
    return await cluster.scrape(id);
  } catch {
    return null;
  }
}

export interface PlanOutcome {
  planId: string;
  symbol: string;
  addedMs: number;
  allow: boolean;
  reason: string | null;
  failed: string[];
}

/**
 * Plans at `perSec` (paced on a schedule, not sleep-after-send), round robin over the
 * symbols, the way the planner writes them; every `readEveryMs` the permits of the plans
 * still unanswered are read (GET, never consumed). `stop()` waits up to `settleMs` for
 * the last answers; plans still without a permit are `unanswered`.
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

  async stop(settleMs = 10_000): Promise<{
    sent: number;
    xaddErrors: number;
    outcomes: PlanOutcome[];
    unanswered: number;
  }> {
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
        this.done.push(decodePermit(planId, plan, raw));
      });
    }
  }
}

function decodePermit(
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

/** Permits counted by outcome: `allow` or the deny's first reason. */
export function outcomeCounts(outcomes: readonly PlanOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const p of outcomes) {
    const key = p.allow ? 'allow' : `deny:${p.reason ?? '?'}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
