/**
 * What happened to every plan the simulator published: when it was added, the P3.3
 * permit it got (seen by the permit probe or returned by the gate), the gate's answer
 * and the order it led to. The dashboard, the scenario's fault detection and the
 * summary all read this book; nothing here does I/O.
 */
import type { GateResult } from '../../gate/consume-permits.js';
import { LatencyWindow, type LatencySummary } from './latency-stats.js';

export interface PermitSeen {
  allow: boolean;
  /** First failing reason of a deny; null on allow. */
  reason: string | null;
  /** Every failing check of a deny (details.failed), including `reason`. */
  failed: readonly string[];
  /** Wall time (ms) the simulator saw the permit. */
  seenMs: number;
  via: 'probe' | 'gate';
}

export interface PlanRecord {
  planId: string;
  symbol: string;
  action: string | null;
  /** Wall time (ms) just before the XADD. */
  publishedMs: number;
  /** Monotonic time (ms) just before the XADD, for latency. */
  publishedMono: number;
  /** Monotonic time the permit probe first saw the permit (null: not timed). */
  permitMono: number | null;
  governorGranted: boolean;
  tag: string | null;
  permit: PermitSeen | null;
  gate: GateResult | null;
  order: 'filled' | 'rejected' | 'failed' | null;
}

export interface PermitCounts {
  allowed: number;
  denied: number;
  byReason: Record<string, number>;
}

const MAX_PLANS = 50_000;
/** Gate refusal details that are not a brain deny reason. */
const GATE_NON_REASONS: ReadonlySet<string> = new Set([
  'missing',
  'wrong_type',
  'invalid',
  'denied',
]);

export class PlanBook {
  readonly #plans = new Map<string, PlanRecord>();
  readonly #latency = new LatencyWindow();
  readonly #counts: PermitCounts = { allowed: 0, denied: 0, byReason: {} };

  readonly #listeners: ((plan: PlanRecord) => void)[] = [];

  /** Called for every plan added (the permit probe starts watching it at once). */
  onAdd(listener: (plan: PlanRecord) => void): void {
    this.#listeners.push(listener);
  }

  add(record: PlanRecord): void {
    this.#plans.set(record.planId, record);
    for (const listener of this.#listeners) listener(record);
    if (this.#plans.size > MAX_PLANS) {
      const oldest = this.#plans.keys().next().value;
      if (oldest !== undefined) this.#plans.delete(oldest);
    }
  }

  get(planId: string): PlanRecord | undefined {
    return this.#plans.get(planId);
  }

  /** The permit of `planId` became readable at monotonic time `nowMono` (first call counts). */
  recordLatency(planId: string, nowMono: number): void {
    const plan = this.#plans.get(planId);
    if (!plan || plan.permitMono !== null) return;
    plan.permitMono = nowMono;
    this.#latency.add(nowMono - plan.publishedMono);
  }

  /** Records the first sighting of a plan's permit; later sightings are ignored. */
  recordPermit(planId: string, seen: PermitSeen, nowMono: number | null): void {
    const plan = this.#plans.get(planId);
    if (!plan) return;
    if (nowMono !== null) this.recordLatency(planId, nowMono);
    if (plan.permit !== null) return;
    plan.permit = seen;
    if (seen.allow) this.#counts.allowed += 1;
    else {
      this.#counts.denied += 1;
      const reason = seen.reason ?? 'unknown';
      this.#counts.byReason[reason] = (this.#counts.byReason[reason] ?? 0) + 1;
    }
  }

  recordGate(planId: string, result: GateResult, nowMs: number): void {
    const plan = this.#plans.get(planId);
    if (!plan) return;
    plan.gate = result;
    if (result.ok) {
      this.recordPermit(
        planId,
        { allow: true, reason: null, failed: [], seenMs: nowMs, via: 'gate' },
        null,
      );
      return;
    }
    const reason = result.p33Reason;
    if (result.code === 'missing_or_denied_p33_permit' && reason && !GATE_NON_REASONS.has(reason)) {
      const seen: PermitSeen = {
        allow: false,
        reason,
        failed: [reason],
        seenMs: nowMs,
        via: 'gate',
      };
      this.recordPermit(planId, seen, null);
    }
  }

  recordOrder(planId: string, outcome: NonNullable<PlanRecord['order']>): void {
    const plan = this.#plans.get(planId);
    if (plan) plan.order = outcome;
  }

  counts(): PermitCounts {
    return { ...this.#counts, byReason: { ...this.#counts.byReason } };
  }

  /** Latency of the permits the probe saw; `probeMissed`: answered plans it never timed. */
  latency(): LatencySummary & { probeMissed: number } {
    let missed = 0;
    for (const plan of this.#plans.values())
      if (plan.permit !== null && plan.permitMono === null) missed += 1;
    return { ...this.#latency.summary(), probeMissed: missed };
  }

  /** Plans matching a filter, in publication order. */
  find(filter: (plan: PlanRecord) => boolean): PlanRecord[] {
    return [...this.#plans.values()].filter(filter);
  }

  /** Plans that never got a permit although they were published `graceMs` ago. */
  unanswered(nowMs: number, graceMs: number): PlanRecord[] {
    return this.find((p) => p.permit === null && nowMs - p.publishedMs > graceMs);
  }
}
