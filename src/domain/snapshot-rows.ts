/**
 * From one positionRisk response to the snapshots to write (SPEC §3). Pure.
 *
 * - Every allowlisted symbol in the response is written, flat ones included.
 * - A symbol absent from the response is `unknown_symbol` and not written — except with
 *   positionRisk v3, which lists only open positions: there a symbol the exchange lists
 *   (exchangeInfo) and the response omits is flat.
 * - Hedge mode (rows with positionSide LONG/SHORT) is not supported: not written.
 * - Two one-way rows for one symbol are ambiguous: not written.
 */
import { ZERO, sideOf } from './amount.js';
import type { Snapshot } from './snapshot.js';
import type { PositionRow } from './position-row.js';

export type SnapshotSource = 'rest' | 'ws';

export interface SnapshotPlan {
  writes: { symbol: string; snapshot: Snapshot }[];
  unknown: string[];
  hedge: string[];
  ambiguous: string[];
}

export interface SnapshotPlanOptions {
  allowlist: readonly string[];
  takenMs: number;
  source: SnapshotSource;
  /** positionRisk v3 omits flat symbols; these listed symbols are then flat, not unknown. */
  flatWhenAbsent?: ReadonlySet<string>;
}

export function snapshotFromRow(
  row: PositionRow,
  takenMs: number,
  source: SnapshotSource,
): Snapshot {
  return {
    amount: row.positionAmt,
    side: sideOf(row.positionAmt),
    entryPrice: row.entryPrice,
    markPrice: row.markPrice,
    leverage: row.leverage,
    unrealizedPnl: row.unrealizedProfit,
    takenMs,
    exchangeUpdateMs: row.updateTimeMs,
    source,
  };
}

function flatSnapshot(takenMs: number, source: SnapshotSource): Snapshot {
  return {
    amount: ZERO,
    side: 'FLAT',
    entryPrice: null,
    markPrice: null,
    leverage: null,
    unrealizedPnl: null,
    takenMs,
    exchangeUpdateMs: null,
    source,
  };
}

export function planSnapshots(
  rows: readonly PositionRow[],
  options: SnapshotPlanOptions,
): SnapshotPlan {
  const wanted = new Set(options.allowlist);
  const bySymbol = new Map<string, PositionRow[]>();
  for (const row of rows) {
    if (!wanted.has(row.symbol)) continue;
    const list = bySymbol.get(row.symbol) ?? [];
    list.push(row);
    bySymbol.set(row.symbol, list);
  }
  const plan: SnapshotPlan = { writes: [], unknown: [], hedge: [], ambiguous: [] };
  for (const symbol of options.allowlist) {
    const symbolRows = bySymbol.get(symbol);
    if (symbolRows === undefined) {
      if (options.flatWhenAbsent?.has(symbol)) {
        plan.writes.push({ symbol, snapshot: flatSnapshot(options.takenMs, options.source) });
      } else plan.unknown.push(symbol);
    } else if (symbolRows.some((row) => row.positionSide !== 'BOTH')) plan.hedge.push(symbol);
    else if (symbolRows.length > 1) plan.ambiguous.push(symbol);
    else
      plan.writes.push({
        symbol,
        snapshot: snapshotFromRow(symbolRows[0]!, options.takenMs, options.source),
      });
  }
  return plan;
}
