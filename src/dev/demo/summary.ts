/**
 * The demo's verdict (pure). It passes only when every injected fault was caught — every
 * signal it names was seen after the injection — and no order was ever sized beyond the
 * exchange position (the venue's order log, audited). A run that injected nothing passes
 * nothing.
 */
import type { OrderAudit } from '../pipeline/order-audit.js';
import type { LatencySummary } from '../pipeline/latency-stats.js';
import type { SignalReport } from './signals.js';

export interface FaultReport {
  step: string;
  title: string;
  symbol: string | null;
  injectedAtMs: number;
  signals: SignalReport[];
  /** Time the system was back to normal after the step's way out, or null. */
  recoveredAtMs: number | null;
  recovery: string;
  notes: string[];
}

export interface FaultVerdict extends FaultReport {
  caught: boolean;
  /** Injection → the last required signal, in ms; null when not caught. */
  detectionMs: number | null;
  recoveryMs: number | null;
}

export interface SummaryInput {
  faults: readonly FaultReport[];
  skipped: readonly string[];
  permits: { allowed: number; denied: number; byReason: Record<string, number> };
  autoRepairs: number;
  orders: OrderAudit;
  latency: LatencySummary & { probeMissed: number };
  plansPublished: number;
  unansweredPlans: number;
  durationSec: number;
  environment: Record<string, string>;
}

export interface DemoSummary extends Omit<SummaryInput, 'faults'> {
  ok: boolean;
  failures: string[];
  faults: FaultVerdict[];
}

export function judgeFault(fault: FaultReport): FaultVerdict {
  const caught = fault.signals.length > 0 && fault.signals.every((s) => s.seenAtMs !== null);
  const last = Math.max(...fault.signals.map((s) => s.seenAtMs ?? Number.NEGATIVE_INFINITY));
  return {
    ...fault,
    caught,
    detectionMs: caught ? Math.max(0, last - fault.injectedAtMs) : null,
    recoveryMs:
      fault.recoveredAtMs === null ? null : Math.max(0, fault.recoveredAtMs - fault.injectedAtMs),
  };
}

export function evaluateSummary(input: SummaryInput): DemoSummary {
  const faults = input.faults.map(judgeFault);
  const failures: string[] = [];
  if (faults.length === 0) failures.push('no fault was injected: nothing was demonstrated');
  for (const fault of faults) {
    if (fault.caught) continue;
    const missing = fault.signals.filter((s) => s.seenAtMs === null).map((s) => s.signal);
    failures.push(
      `${fault.step}: not caught (never saw: ${missing.join('; ') || 'no signal defined'})`,
    );
  }
  for (const v of input.orders.violations) {
    failures.push(
      `order beyond the exchange position (${v.kind}): plan ${v.planId} ${v.symbol} qty ${v.qty}, position before ${v.positionBefore} — ${v.detail}`,
    );
  }
  if (input.unansweredPlans > 0) {
    failures.push(`${input.unansweredPlans} EXECUTE plan(s) never got a P3.3 permit`);
  }
  return { ...input, faults, ok: failures.length === 0, failures };
}
