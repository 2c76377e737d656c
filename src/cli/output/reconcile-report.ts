/**
 * Human and JSON views of a cycle's decisions, for `posguard reconcile --once/--dry-run`.
 */
import { formatAmount } from '../../domain/amount.js';
import { commitFailure } from '../../reconcile/commit-writer.js';
import type { CycleReport, SymbolOutcome } from '../../reconcile/engine.js';
import { holdFrom } from '../../redis/symbol-state.js';

export interface DecisionRow {
  symbol: string;
  status: string;
  reason: string;
  exchange: string;
  ledger: string;
  diff: string;
  diff_pct: string;
  snapshot_age_sec: string;
  action: string;
  detail: string;
}

/** What the decision does (or, in a dry run, would do) about the ledger and the hold. */
export function plannedAction(outcome: SymbolOutcome): string {
  const d = outcome.decision;
  const { hold, holdOwner, holdPttlMs, holdExpireMs } = outcome.reads;
  const ours =
    holdFrom({ pttlMs: holdPttlMs, expireTimeMs: holdExpireMs, marker: holdOwner }).owner === 'p34';
  const parts: string[] = [];
  if (d.action === 'auto_repair') parts.push('repair ledger');
  if (d.action === 'ledger_init') parts.push('init ledger');
  if (d.holdPolicy === 'set')
    parts.push(hold === null ? 'set hold' : ours ? 're-arm hold' : 'share foreign hold');
  if (d.holdPolicy === 'keep' && hold !== null)
    parts.push(
      ours ? 're-arm hold' : holdOwner === 'shared' ? 'share foreign hold' : 'leave foreign hold',
    );
  if (d.holdPolicy === 'clear' && hold !== null)
    parts.push(ours ? 'clear hold' : 'leave foreign hold');
  return parts.length === 0 ? 'none' : parts.join(', ');
}

function resultSuffix(outcome: SymbolOutcome): string {
  const commit = outcome.commit;
  if (commit === null || commit.code === 'ok') return '';
  const failure = commitFailure(commit);
  return failure !== null ? ` [error: ${failure}]` : ` [refused: ${commit.code}]`;
}

export function outcomeRow(outcome: SymbolOutcome): DecisionRow {
  const d = outcome.decision;
  const fmt = (a: typeof d.exchangeAmt): string => (a === null ? '-' : formatAmount(a));
  return {
    symbol: d.symbol,
    status: d.status,
    reason: d.reason === '' ? '-' : d.reason,
    exchange: fmt(d.exchangeAmt),
    ledger: fmt(d.ledgerAmt),
    diff: fmt(d.diffAmt),
    diff_pct: d.diffPct === null ? '-' : d.diffPct.toDecimalPlaces(4).toFixed(),
    snapshot_age_sec: d.snapshotAgeSec === null ? '-' : d.snapshotAgeSec.toFixed(1),
    action: plannedAction(outcome) + resultSuffix(outcome),
    detail: d.detail,
  };
}

const COLUMNS: readonly [keyof DecisionRow, string][] = [
  ['symbol', 'SYMBOL'],
  ['status', 'STATUS'],
  ['reason', 'REASON'],
  ['exchange', 'EXCHANGE'],
  ['ledger', 'LEDGER'],
  ['diff', 'DIFF'],
  ['diff_pct', 'DIFF%'],
  ['snapshot_age_sec', 'AGE_S'],
  ['action', 'ACTION'],
];

/** An aligned text table, one row per symbol. */
export function formatDecisionTable(report: CycleReport): string {
  const rows = report.outcomes.map(outcomeRow);
  const widths = COLUMNS.map(([key, title]) =>
    Math.max(title.length, ...rows.map((r) => r[key].length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return (
    [
      line(COLUMNS.map(([, title]) => title)),
      ...rows.map((r) => line(COLUMNS.map(([key]) => r[key]))),
    ].join('\n') + '\n'
  );
}

export function reportToJson(report: CycleReport): string {
  return `${JSON.stringify({ dry_run: report.dryRun, now_ms: report.nowMs, symbols: report.outcomes.map(outcomeRow) }, null, 2)}\n`;
}
