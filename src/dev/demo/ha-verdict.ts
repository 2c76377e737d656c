/**
 * The verdict of the `ha` demo scenario (pure) and its text form. PASS only when each of
 * the three faults was injected and every check it lists held (a new leader or term, the
 * faulted instance back as a standby where that applies, an ALLOW consumed through the gate
 * again — each within the bound), and the end-of-run audit found no broken invariant (no
 * plan the gate answered ALLOW twice, no plan with two orders on the venue, no fill lost or
 * applied twice, every ledger equal to the venue's position). A run that injected nothing
 * passes nothing.
 */
import { type HaAudit, auditFailures } from '../ha-audit.js';

export const HA_FAULTS = [
  'kill-reconcile-leader',
  'pause-poller-leader',
  'redis-failover',
] as const;
export type HaFaultName = (typeof HA_FAULTS)[number];

export interface HaCheck {
  label: string;
  ok: boolean;
  detail: string;
}

export interface HaFaultReport {
  name: HaFaultName;
  title: string;
  injectedAtMs: number;
  checks: HaCheck[];
  /** What it measured (ms, counts, ids), for the summary and the figures. */
  figures: Record<string, number | string | null>;
}

export interface HaDemoInput {
  boundMs: number;
  environment: Record<string, string>;
  faults: readonly HaFaultReport[];
  /** Checks before the first fault (the load flows at all). */
  baseline: readonly HaCheck[];
  /** Null when the run ended before the audit (an error, Ctrl-C). */
  audit: HaAudit | null;
  load: {
    seconds: number;
    plansPublished: number;
    gate: Record<string, number>;
    fencedWrites: Record<string, number>;
  };
  sabotage: readonly string[];
  /** An error that ended the scenario early, if any. */
  error: string | null;
}

export interface HaDemoSummary extends HaDemoInput {
  scenario: 'ha';
  ok: boolean;
  failures: string[];
  faults: (HaFaultReport & { survived: boolean })[];
}

export function judgeHaDemo(input: HaDemoInput): HaDemoSummary {
  const failures: string[] = [];
  if (input.error !== null) failures.push(`the scenario stopped: ${input.error}`);
  for (const check of input.baseline) {
    if (!check.ok) failures.push(`before the faults: ${check.label} — ${check.detail}`);
  }
  const faults = input.faults.map((f) => ({
    ...f,
    survived: f.checks.length > 0 && f.checks.every((c) => c.ok),
  }));
  for (const name of HA_FAULTS) {
    const fault = faults.find((f) => f.name === name);
    if (fault === undefined) {
      failures.push(`${name}: not injected`);
      continue;
    }
    if (fault.checks.length === 0) failures.push(`${name}: nothing was checked`);
    for (const check of fault.checks) {
      if (!check.ok) failures.push(`${name}: ${check.label} — ${check.detail}`);
    }
  }
  if (input.audit === null) failures.push('the end-of-run audit did not run');
  else failures.push(...auditFailures(input.audit));
  return { ...input, scenario: 'ha', faults, ok: failures.length === 0, failures };
}

function figure(value: number | string | null): string {
  if (value === null) return '—';
  return typeof value === 'number' ? String(Math.round(value * 100) / 100) : value;
}

export function renderHaSummary(s: HaDemoSummary): string {
  const lines = [
    '',
    '=== posguard demo: ha scenario ===',
    ...Object.entries(s.environment).map(([k, v]) => `  ${k}: ${v}`),
    `  ran ${s.load.seconds.toFixed(1)} s; ${s.load.plansPublished} plans published`,
    ...(s.sabotage.length > 0 ? [`  SABOTAGE on purpose: ${s.sabotage.join(', ')}`] : []),
    '',
    ...s.baseline.map(
      (c) => `  [${c.ok ? 'ok' : 'FAILED'}] before the faults: ${c.label} — ${c.detail}`,
    ),
    `Faults (bound: each within ${s.boundMs / 1000} s of the injection):`,
  ];
  for (const f of s.faults) {
    lines.push(`  [${f.survived ? 'SURVIVED' : 'NOT SURVIVED'}] ${f.name}: ${f.title}`);
    for (const c of f.checks) lines.push(`      ${c.ok ? '✓' : '✗'} ${c.label}: ${c.detail}`);
    const figs = Object.entries(f.figures).map(([k, v]) => `${k} ${figure(v)}`);
    if (figs.length > 0) lines.push(`      figures: ${figs.join('; ')}`);
  }
  lines.push('', 'Gate answers to the Apply Layer:');
  for (const [k, v] of Object.entries(s.load.gate).sort((a, b) => b[1] - a[1])) {
    lines.push(`      ${k}: ${v}`);
  }
  lines.push(
    `Fenced writes (posguard_fenced_writes_total, instances running at the end): ` +
      Object.entries(s.load.fencedWrites)
        .map(([role, n]) => `${role} ${n}`)
        .join(', '),
  );
  const a = s.audit;
  if (a !== null) {
    lines.push(
      '',
      'Invariants (end of run):',
      `  plans the gate answered ALLOW twice: ${a.plansWithTwoAllows.length}`,
      `  plans with two orders on the venue: ${a.plansWithTwoOrders.length} (venue orders the Apply Layer never sent: ${a.unattributedOrders})`,
      `  orders filled by the venue: ${a.ordersFilled} (rejected: ${a.ordersRejected}); result entries lost ${a.resultsLost.length}, ` +
        `duplicated ${a.resultsDuplicated.length}; fills not applied ${a.fillsNotApplied.length}, applied twice ${a.fillsAppliedTwice.length}`,
      ...a.symbols.map(
        (x) =>
          `  ${x.symbol}: ledger ${x.ledger} ${x.equal ? '=' : '≠'} venue ${x.venue}; ledger version +${x.versionDelta ?? '?'} for ${x.fillsApplied} of ${x.fills} fills applied`,
      ),
    );
  }
  lines.push(
    '',
    s.ok
      ? 'RESULT: PASS — every fault survived; no plan held two ALLOW permits or led to two orders; every ledger equals the venue.'
      : 'RESULT: FAIL',
    ...s.failures.map((f) => `  - ${f}`),
    '',
  );
  return lines.join('\n');
}
