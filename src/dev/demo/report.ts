/**
 * The end-of-run summary as text (and the JSON form is the DemoSummary itself).
 */
import type { DemoSummary, FaultVerdict } from './summary.js';

function seconds(ms: number | null): string {
  return ms === null ? '—' : `${(ms / 1000).toFixed(2)} s`;
}

function faultLines(fault: FaultVerdict): string[] {
  const mark = fault.caught ? 'CAUGHT' : 'MISSED';
  const lines = [
    `  [${mark}] ${fault.step}: ${fault.title} — detected in ${seconds(fault.detectionMs)}, back to normal after ${seconds(fault.recoveryMs)}`,
  ];
  for (const s of fault.signals) {
    const when =
      s.seenAtMs === null ? 'never seen' : `+${seconds(s.seenAtMs - fault.injectedAtMs)}`;
    lines.push(`      ${s.signal}: ${when}`);
  }
  lines.push(`      way out: ${fault.recovery}`);
  for (const note of fault.notes) lines.push(`      note: ${note}`);
  return lines;
}

export function renderSummary(summary: DemoSummary): string {
  const reasons = Object.entries(summary.permits.byReason)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `      ${reason}: ${n}`);
  const o = summary.orders;
  const l = summary.latency;
  const lines = [
    '',
    '=== posguard demo summary ===',
    ...Object.entries(summary.environment).map(([k, v]) => `  ${k}: ${v}`),
    `  ran ${summary.durationSec.toFixed(1)} s; ${summary.plansPublished} plans published`,
    '',
    'Injected faults:',
    ...summary.faults.flatMap(faultLines),
    ...(summary.skipped.length > 0
      ? [`  skipped (out of time): ${summary.skipped.join(', ')}`]
      : []),
    '',
    `Permits: ${summary.permits.allowed} allowed, ${summary.permits.denied} denied`,
    ...reasons,
    `AUTO_REPAIR events: ${summary.autoRepairs}`,
    `Orders (venue order log): ${o.reduceOnlyOrders} reduce-only, ${o.openingOrders} opening, ${o.rejectedOrders} rejected; ` +
      `largest close = ${(o.maxCloseRatio * 100).toFixed(1)} % of the position before it; ` +
      `${o.violations.length} sized beyond the exchange position`,
    `Plan → permit latency (probe; ${l.count} plans, ${l.probeMissed} consumed before the probe saw them): ` +
      `p50 ${l.p50Ms === null ? '—' : `${l.p50Ms.toFixed(2)} ms`}, p99 ${l.p99Ms === null ? '—' : `${l.p99Ms.toFixed(2)} ms`}`,
    `Plans without a permit: ${summary.unansweredPlans}`,
    '',
    summary.ok
      ? 'RESULT: PASS — every injected fault was caught; no order exceeded the exchange position.'
      : 'RESULT: FAIL',
    ...summary.failures.map((f) => `  - ${f}`),
    '',
  ];
  return lines.join('\n');
}
