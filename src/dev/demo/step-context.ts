/**
 * What a scenario step can touch, and the two waits every step uses: "until these
 * signals were seen" (publishing probe plans for the affected symbol meanwhile, so the
 * brain's denials show up) and "until the symbol is back to normal".
 */
import type { Amount } from '../../domain/amount.js';
import type { LotSize } from '../../domain/lot-size.js';
import type { Clock } from '../../domain/time.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { VenuePort } from '../pipeline/venue-port.js';
import type { DemoOperator } from './operator.js';
import type { DemoObserver } from './observer.js';
import { type ObservedPermit, type Signal, type SignalReport, reportSignals } from './signals.js';

export interface DemoTiming {
  /** Steady state before the first step. */
  warmupMs: number;
  /** How long the "operator" looks at a hold before acting. */
  operatorDelayMs: number;
  /** Pause between steps. */
  settleMs: number;
  /** How long the venue answers 429 in the stale-feed step. */
  staleFeedMs: number;
  detectTimeoutMs: number;
  recoverTimeoutMs: number;
  /** Probe plans for the affected symbol while waiting for a detection. */
  probeEveryMs: number;
}

export interface EngineControl {
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** The brain's ledger updater, paused to simulate it lagging behind the fills. */
export interface LedgerUpdaterControl {
  pauseLedgerUpdates(): Promise<void>;
  resumeLedgerUpdates(): void;
}

export interface StepContext {
  pipeline: Pipeline;
  brain: LedgerUpdaterControl;
  venue: VenuePort;
  observer: DemoObserver;
  operator: DemoOperator;
  engine: EngineControl;
  clock: Clock;
  timing: DemoTiming;
  symbols: readonly string[];
  /** Lot size of a symbol (brain's lot-size key, else step = min = 0.001). */
  lot(symbol: string): Promise<LotSize>;
  /** Signed position the keeper holds each symbol at. */
  targets: ReadonlyMap<string, Amount>;
  /** Brain's bad-input counters by stream label (null when the endpoint does not answer). */
  badInputCounts(): Promise<Map<string, number> | null>;
  /** Shown on the dashboard as the current scenario step. */
  status(text: string): void;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function observedPermits(ctx: StepContext): ObservedPermit[] {
  return ctx.pipeline.book
    .find((p) => p.permit !== null)
    .map((p) => ({
      planId: p.planId,
      symbol: p.symbol,
      publishedMs: p.publishedMs,
      allow: p.permit?.allow ?? false,
      reason: p.permit?.reason ?? null,
      failed: p.permit?.failed ?? [],
      seenMs: p.permit?.seenMs ?? 0,
    }));
}

/**
 * Waits until every signal was seen after `sinceMs` (or the timeout), publishing a small
 * close plan for `probeSymbol` every `probeEveryMs` so the brain has plans to deny.
 *
 * Probes start only once the symbol's snapshot was taken after the injection: a plan
 * evaluated against the snapshot from before an external trade would be sized on a
 * position that no longer exists — the window posguard cannot see into, which the
 * demo must not mistake for a sizing bug.
 */
export async function awaitSignals(
  ctx: StepContext,
  signals: readonly Signal[],
  sinceMs: number,
  probeSymbol: string | null,
): Promise<SignalReport[]> {
  const deadline = ctx.clock.nowMs() + ctx.timing.detectTimeoutMs;
  let nextProbe = 0;
  for (;;) {
    const now = ctx.clock.nowMs();
    const reports = reportSignals(signals, sinceMs, ctx.observer.events, observedPermits(ctx));
    if (reports.every((r) => r.seenAtMs !== null) || now >= deadline) return reports;
    if (
      probeSymbol !== null &&
      now >= nextProbe &&
      (await snapshotAfter(ctx, probeSymbol, sinceMs))
    ) {
      nextProbe = now + ctx.timing.probeEveryMs;
      await ctx.pipeline.planner.publish({
        symbol: probeSymbol,
        action: 'CLOSE_PARTIAL_25',
        tag: 'probe',
        governorGrant: true,
      });
    }
    await sleep(50);
  }
}

async function snapshotAfter(ctx: StepContext, symbol: string, sinceMs: number): Promise<boolean> {
  await ctx.observer.refresh();
  const taken = ctx.observer.views().find((v) => v.symbol === symbol)?.snapshotTakenMs ?? null;
  return taken !== null && taken > sinceMs;
}

/** Polls `check` until it returns true; the time it did, or null on timeout. */
export async function waitUntil(
  ctx: StepContext,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<number | null> {
  const deadline = ctx.clock.nowMs() + timeoutMs;
  for (;;) {
    if (await check()) return ctx.clock.nowMs();
    if (ctx.clock.nowMs() >= deadline) return null;
    await sleep(100);
  }
}

/** True when the symbol's reconcile status is OK and no hold is set. */
export async function symbolHealthy(ctx: StepContext, symbol: string): Promise<boolean> {
  await ctx.observer.refresh();
  const view = ctx.observer.views().find((v) => v.symbol === symbol);
  return view !== undefined && view.status === 'OK' && view.holdTtlSec === null;
}

/** Healthy, and the snapshot and the ledger show the same amount. */
export async function symbolSettled(ctx: StepContext, symbol: string): Promise<boolean> {
  if (!(await symbolHealthy(ctx, symbol))) return false;
  const view = ctx.observer.views().find((v) => v.symbol === symbol);
  return view !== undefined && view.exchange === view.ledger;
}
