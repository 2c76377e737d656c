/**
 * The engine's metrics (SPEC §9), on its own prom-client Registry. The five seed names are
 * kept exactly; `p34_reconcile_drift_total` counts episodes, not cycles (LESSONS #5).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DriftStatus } from '../domain/drift.js';

export const STATUSES: readonly DriftStatus[] = [
  'OK',
  'DRIFT',
  'HOLD',
  'REPAIRED',
  'MANUAL_REQUIRED',
];

export interface ReconcileMetrics {
  registry: Registry;
  driftTotal: Counter<'symbol' | 'reason'>;
  autoRepairTotal: Counter<'symbol'>;
  holdActive: Gauge<'symbol'>;
  diffAmt: Gauge<'symbol'>;
  lastFixAgeSec: Gauge<'symbol'>;
  symbolStatus: Gauge<'symbol' | 'status'>;
  cycleDuration: Histogram;
  cycleOverrunTotal: Counter;
  cycleFailuresTotal: Counter;
  badInputTotal: Counter<'stream'>;
  repairConflictTotal: Counter<'symbol' | 'code'>;
  commitErrorTotal: Counter<'symbol'>;
  holdLostTotal: Counter<'symbol'>;
  lastCycleTs: Gauge;
  evidenceFills: Gauge;
}

export function createReconcileMetrics(): ReconcileMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    driftTotal: new Counter({
      name: 'p34_reconcile_drift_total',
      help: 'Drift episodes detected (a hold episode starting or changing reason, or an auto-repair)',
      labelNames: ['symbol', 'reason'],
      registers,
    }),
    autoRepairTotal: new Counter({
      name: 'p34_reconcile_auto_repair_total',
      help: 'Ledgers auto-repaired on evidence',
      labelNames: ['symbol'],
      registers,
    }),
    holdActive: new Gauge({
      name: 'p34_reconcile_hold_active',
      help: '1 when a hold key exists for the symbol (whoever set it), else 0',
      labelNames: ['symbol'],
      registers,
    }),
    diffAmt: new Gauge({
      name: 'p34_reconcile_diff_amt',
      help: 'Exchange minus ledger amount (signed); NaN when either is unknown',
      labelNames: ['symbol'],
      registers,
    }),
    lastFixAgeSec: new Gauge({
      name: 'p34_reconcile_last_fix_age_sec',
      help: 'Seconds since the last auto-repair of the symbol (absent when never repaired)',
      labelNames: ['symbol'],
      registers,
    }),
    symbolStatus: new Gauge({
      name: 'p34_symbol_status',
      help: '1 for the current reconcile status of the symbol, 0 for the others',
      labelNames: ['symbol', 'status'],
      registers,
    }),
    cycleDuration: new Histogram({
      name: 'p34_cycle_duration_seconds',
      help: 'Duration of a reconcile cycle (reads, decisions, writes)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    cycleOverrunTotal: new Counter({
      name: 'p34_cycle_overrun_total',
      help: 'Scheduled cycles skipped because a cycle ran past its slot',
      registers,
    }),
    cycleFailuresTotal: new Counter({
      name: 'p34_cycle_failures_total',
      help: 'Cycles that failed (e.g. Redis unavailable) and were skipped',
      registers,
    }),
    badInputTotal: new Counter({
      name: 'p34_bad_input_total',
      help: 'Malformed input entries, by stream',
      labelNames: ['stream'],
      registers,
    }),
    repairConflictTotal: new Counter({
      name: 'p34_repair_conflict_total',
      help: 'Ledger inits/repairs refused because the ledger changed or the evidence was used',
      labelNames: ['symbol', 'code'],
      registers,
    }),
    commitErrorTotal: new Counter({
      name: 'p34_commit_error_total',
      help: 'Per-symbol commit failures, nothing written for the symbol (e.g. a key of the wrong type); the heartbeat names the symbol and the brain denies it',
      labelNames: ['symbol'],
      registers,
    }),
    holdLostTotal: new Counter({
      name: 'p34_hold_lost_total',
      help: 'Times the hold of a running hold episode was found gone (deleted or expired by someone else) and set again; one HOLD_SET event per episode however often',
      labelNames: ['symbol'],
      registers,
    }),
    lastCycleTs: new Gauge({
      name: 'p34_last_cycle_ts',
      help: 'Unix time (seconds) of the last successful cycle',
      registers,
    }),
    evidenceFills: new Gauge({
      name: 'p34_evidence_window_fills',
      help: 'Executed fills held in the evidence window',
      registers,
    }),
  };
}
