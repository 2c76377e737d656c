/**
 * The demo's scenario, headless and short, against the real parts: a private
 * redis-server, the simulated venue over HTTP, the brain, the reconcile engine, the
 * gate. Every injected fault must be caught with the expected reason, no order may
 * exceed the exchange position, and the verdict must be a pass.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { runDemo } from '../../src/dev/demo/run-demo.js';
import { renderSummary } from '../../src/dev/demo/report.js';
import type { DemoTiming } from '../../src/dev/demo/step-context.js';

const FAST: DemoTiming = {
  warmupMs: 3000,
  operatorDelayMs: 800,
  settleMs: 300,
  staleFeedMs: 5000,
  detectTimeoutMs: 10_000,
  recoverTimeoutMs: 8000,
  probeEveryMs: 300,
};

describe('posguard demo (headless, all steps)', () => {
  it('catches every injected fault and never sizes an order beyond the position', async () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    const summary = await runDemo({
      // A budget, not a pace: every step must start; no steady state after the last one.
      durationSec: 90,
      padToDuration: false,
      scenario: 'all',
      display: 'lines',
      out,
      logger: silentLogger(),
      timing: FAST,
    });
    if (!summary.ok) console.error(renderSummary(summary), lines.join(''));
    const byStep = new Map(summary.faults.map((f) => [f.step, f]));
    expect([...byStep.keys()].sort()).toEqual(
      [
        'engine-down',
        'external-trade',
        'ledger-lag',
        'malformed',
        'missed-result',
        'side-flip',
        'stale-feed',
        'unknown-action',
      ].sort(),
    );
    expect(summary.failures).toEqual([]);
    for (const fault of summary.faults) {
      expect({ step: fault.step, caught: fault.caught, signals: fault.signals }).toMatchObject({
        caught: true,
      });
      expect(
        fault.signals.every((s) => s.seenAtMs !== null && s.seenAtMs >= fault.injectedAtMs),
      ).toBe(true);
    }
    expect(byStep.get('external-trade')?.recoveredAtMs).not.toBeNull();
    expect(byStep.get('side-flip')?.recoveredAtMs).not.toBeNull();
    // The engine's evidence repair: no hold, no operator, and no double count afterwards.
    expect(byStep.get('ledger-lag')?.recoveredAtMs).not.toBeNull();
    expect(summary.autoRepairs).toBeGreaterThanOrEqual(1);
    expect(summary.permits.byReason.reconcile_required_side_mismatch).toBeGreaterThan(0);
    expect(summary.permits.byReason.stale_exchange_state).toBeGreaterThan(0);
    // byReason counts first reasons; engine-down often comes second (after cooldown_in_flight).
    expect(byStep.get('engine-down')?.signals.map((x) => x.signal)).toEqual([
      'permit denied (reconcile_engine_down)',
    ]);
    expect(summary.permits.byReason.unknown_action).toBe(1);
    expect(summary.permits.allowed).toBeGreaterThan(0);
    expect(summary.orders.reduceOnlyOrders).toBeGreaterThan(0);
    expect(summary.orders.violations).toEqual([]);
    expect(summary.orders.maxCloseRatio).toBeLessThanOrEqual(1);
    expect(summary.unansweredPlans).toBe(0);
    expect(summary.latency.count).toBeGreaterThan(0);
    expect(summary.failures).toEqual([]);
    expect(summary.ok).toBe(true);
    expect(lines.join('')).toMatch(/permits \d+ allow/);
  }, 120_000);
});
