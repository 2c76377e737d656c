/**
 * What a committed cycle means for metrics and logs. Logs are one line per state transition
 * per symbol — never one per cycle per symbol. The observer keeps its own memory across
 * cycles (which symbols are failing, whose lost hold was logged, which gauge values are set);
 * nothing else reads or writes it. (The engine's memory of used evidence is the engine's:
 * `evidenceUsedBy` in outcome.ts.)
 */
import type { Decision } from '../domain/drift.js';
import { formatAmount } from '../domain/amount.js';
import type { Logger } from '../observability/logger.js';
import { commitFailure } from './commit-writer.js';
import { type ReconcileMetrics, STATUSES } from './metrics.js';
import type { SymbolOutcome } from './outcome.js';

/** The observer's memory across cycles. */
interface ObserverState {
  /** Symbols whose commit is failing (the failure is logged once per streak). */
  readonly failingSymbols: Set<string>;
  /** Symbols whose lost hold was logged in the current episode (logged once per episode). */
  readonly holdLostLogged: Set<string>;
  /** Gauge values set in earlier cycles. */
  readonly gauges: Map<string, SymbolGauges>;
}

interface ObserveContext extends ObserverState {
  nowMs: number;
  metrics: ReconcileMetrics;
  logger: Logger;
}

function amountText(d: Decision): Record<string, string | null> {
  const fmt = (a: Decision['exchangeAmt']): string | null => (a === null ? null : formatAmount(a));
  return {
    exchange_amt: fmt(d.exchangeAmt),
    ledger_amt: fmt(d.ledgerAmt),
    diff_amt: fmt(d.diffAmt),
  };
}

/** The per-symbol gauge values last set, so unchanged values are not set again. */
export interface SymbolGauges {
  status: string;
  diffAmt: number;
  holdActive: number;
}

/**
 * Sets a symbol's gauges, skipping the ones whose value did not change since the last cycle
 * (prom-client hashes the labels on every set: seven sets per symbol per cycle were a tenth
 * of a cycle). The engine is the only writer of its registry, so skipping is exact.
 */
function observeMetrics(outcome: SymbolOutcome, holdActive: boolean, ctx: ObserveContext): void {
  const { decision: d } = outcome;
  const m = ctx.metrics;
  const symbol = d.symbol;
  const aligned = d.action === 'ledger_init' || d.action === 'auto_repair';
  const next: SymbolGauges = {
    status: d.status,
    diffAmt: aligned ? 0 : d.diffAmt === null ? Number.NaN : d.diffAmt.toNumber(),
    holdActive: holdActive ? 1 : 0,
  };
  const last = ctx.gauges.get(symbol);
  if (last?.status !== next.status) {
    for (const status of STATUSES)
      m.symbolStatus.set({ symbol, status }, status === next.status ? 1 : 0);
  }
  if (last === undefined || !Object.is(last.diffAmt, next.diffAmt))
    m.diffAmt.set({ symbol }, next.diffAmt);
  if (last?.holdActive !== next.holdActive) m.holdActive.set({ symbol }, next.holdActive);
  ctx.gauges.set(symbol, next);
  const lastFix = Number(outcome.reads.state.last_fix_ts_ms);
  if (Number.isFinite(lastFix) && lastFix > 0)
    m.lastFixAgeSec.set({ symbol }, Math.max(0, (ctx.nowMs - lastFix) / 1000));
}

function observeRepair(outcome: SymbolOutcome, ctx: ObserveContext): void {
  const d = outcome.decision;
  const ids = d.evidence?.entryIds ?? [];
  ctx.metrics.autoRepairTotal.inc({ symbol: d.symbol });
  ctx.metrics.driftTotal.inc({ symbol: d.symbol, reason: d.reason });
  ctx.metrics.lastFixAgeSec.set({ symbol: d.symbol }, 0);
  ctx.logger.info(
    {
      symbol: d.symbol,
      ...amountText(d),
      evidence: ids,
      planId: d.evidence?.planId,
      orderId: d.evidence?.orderId,
    },
    'ledger auto-repaired to the exchange amount',
  );
}

function logTransition(outcome: SymbolOutcome, holdBy: string, ctx: ObserveContext): void {
  const d = outcome.decision;
  const before = `${outcome.reads.state.status ?? ''}/${outcome.reads.state.reason ?? ''}`;
  const after = `${d.status}/${d.reason}`;
  if (before === after) return;
  // A symbol seen for the first time and found OK is not news (a fresh start would log every symbol).
  if (before === '/' && d.status === 'OK' && d.reason === '') return;
  const level =
    d.status === 'OK' || d.status === 'REPAIRED' || d.status === 'DRIFT' ? 'info' : 'warn';
  ctx.logger[level](
    {
      symbol: d.symbol,
      from: before,
      to: after,
      ...amountText(d),
      hold_by: holdBy,
      detail: d.detail,
    },
    'reconcile state changed',
  );
}

/** A hold deleted under a running episode: counted every time, logged once per episode. */
function observeHoldLost(
  outcome: SymbolOutcome,
  lost: boolean,
  newEpisode: boolean,
  ctx: ObserveContext,
): void {
  const d = outcome.decision;
  if (newEpisode || d.holdPolicy === 'clear') ctx.holdLostLogged.delete(d.symbol);
  if (!lost) return;
  ctx.metrics.holdLostTotal.inc({ symbol: d.symbol });
  if (ctx.holdLostLogged.has(d.symbol)) return;
  ctx.holdLostLogged.add(d.symbol);
  ctx.logger.warn(
    { symbol: d.symbol, reason: d.reason },
    'engine hold found deleted while its condition lasts; set again (p34_hold_lost_total counts every time, logged once per episode) — to take the hold over, use posguard hold set, not DEL',
  );
}

function observeOne(outcome: SymbolOutcome, ctx: ObserveContext): void {
  const d = outcome.decision;
  const commit = outcome.commit;
  if (commit === null) return;
  if (commit.code === 'error' || commit.code === 'wrong_type') {
    const problem = commitFailure(commit);
    ctx.metrics.commitErrorTotal.inc({ symbol: d.symbol });
    if (!ctx.failingSymbols.has(d.symbol)) {
      ctx.logger.error(
        { symbol: d.symbol, problem },
        'reconcile commit failed; the heartbeat names the symbol and the brain denies it',
      );
    }
    ctx.failingSymbols.add(d.symbol);
    return;
  }
  if (ctx.failingSymbols.delete(d.symbol))
    ctx.logger.info({ symbol: d.symbol }, 'reconcile commit recovered');
  observeMetrics(outcome, commit.holdBy !== '', ctx);
  if (commit.code !== 'ok') {
    ctx.metrics.repairConflictTotal.inc({ symbol: d.symbol, code: commit.code });
    ctx.logger.info(
      { symbol: d.symbol, action: d.action, code: commit.code },
      'ledger write refused; deciding again next cycle',
    );
    return;
  }
  if (commit.newEpisode) ctx.metrics.driftTotal.inc({ symbol: d.symbol, reason: d.reason });
  observeHoldLost(outcome, commit.holdLost, commit.newEpisode, ctx);
  if (d.action === 'auto_repair') observeRepair(outcome, ctx);
  if (d.action === 'ledger_init')
    ctx.logger.info({ symbol: d.symbol, ...amountText(d) }, 'ledger initialised from the exchange');
  logTransition(outcome, commit.holdBy, ctx);
}

/** Turns each committed cycle into metrics and logs (one per engine). */
export class CycleObserver {
  private readonly state: ObserverState = {
    failingSymbols: new Set(),
    holdLostLogged: new Set(),
    gauges: new Map(),
  };

  constructor(
    private readonly metrics: ReconcileMetrics,
    private readonly logger: Logger,
  ) {}

  observe(outcomes: readonly SymbolOutcome[], nowMs: number): void {
    const ctx: ObserveContext = {
      ...this.state,
      nowMs,
      metrics: this.metrics,
      logger: this.logger,
    };
    for (const outcome of outcomes) observeOne(outcome, ctx);
  }
}
