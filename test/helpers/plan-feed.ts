/**
 * Plans added to `apply.plan` at a steady pace, the way the planner writes them
 * (src/dev/pipeline/plan-fields.ts), and the P3.3 permits the brains answer them with
 * (read, never consumed). For tests that must show what a fault did to the permits issued
 * meanwhile.
 */
import type { Redis } from 'ioredis';
import { encodePlan } from '../../src/dev/pipeline/plan-fields.js';
import type { Keys } from '../../src/redis/keys.js';
import { sleep, waitFor } from './wait.js';

export interface PermitRead {
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

export class PlanFeed {
  private readonly added: { planId: string; symbol: string; addedMs: number }[] = [];
  private running: Promise<void> | null = null;
  private stopping = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly symbols: readonly string[],
    private readonly everyMs: number,
    private readonly tag: string,
  ) {}

  get count(): number {
    return this.added.length;
  }

  start(): void {
    this.running ??= (async () => {
      for (let i = 0; !this.stopping; i += 1) {
        const symbol = this.symbols[i % this.symbols.length] as string;
        const planId = `${this.tag}-${i}`;
        const addedMs = Date.now();
        const fields = encodePlan({ planId, symbol, action: 'CLOSE_PARTIAL_25', timeMs: addedMs });
        await this.redis.xadd(this.keys.applyPlanStream, '*', ...Object.entries(fields).flat());
        this.added.push({ planId, symbol, addedMs });
        await sleep(this.everyMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  /** Every plan's permit, once each has one (the wait fails naming the plans still unanswered). */
  async permits(timeoutMs = 15_000): Promise<PermitRead[]> {
    const found = new Map<string, PermitRead>();
    await waitFor(
      async () => {
        const missing = this.added.filter((p) => !found.has(p.planId));
        const raws = await Promise.all(
          missing.map((p) => this.redis.get(this.keys.permitP33(p.planId))),
        );
        missing.forEach((plan, i) => {
          const raw = raws[i];
          if (raw !== null && raw !== undefined) found.set(plan.planId, decode(plan, raw));
        });
        return found.size === this.added.length;
      },
      {
        timeoutMs,
        everyMs: 100,
        what: () => `a permit for each of ${this.added.length} plans (${found.size} answered)`,
      },
    );
    return this.added.map((p) => found.get(p.planId) as PermitRead);
  }
}

function decode(
  plan: { planId: string; symbol: string; addedMs: number },
  raw: string,
): PermitRead {
  const permit = JSON.parse(raw) as {
    allow?: unknown;
    reason?: unknown;
    details?: { failed?: { reason?: unknown }[] };
  };
  const allow = permit.allow === true;
  return {
    ...plan,
    allow,
    reason: allow ? null : String(permit.reason),
    failed: (permit.details?.failed ?? []).map((f) => String(f.reason)),
  };
}

/** Denies that name the reconcile engine as down (first reason or any failing check). */
export function engineDownDenials(permits: readonly PermitRead[]): PermitRead[] {
  return permits.filter(
    (p) =>
      !p.allow &&
      (p.reason === 'reconcile_engine_down' || p.failed.includes('reconcile_engine_down')),
  );
}

/** Permits counted by outcome: `allow` or the deny's first reason. */
export function outcomeCounts(permits: readonly PermitRead[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const p of permits) {
    const key = p.allow ? 'allow' : (p.reason ?? 'deny');
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
