/**
 * One exchange position row as the domain sees it (from /fapi/v2|v3/positionRisk or a
 * user-data ACCOUNT_UPDATE), amounts already decimals. The exchange adapter produces it.
 */
import type { Amount } from './amount.js';

export type PositionSideMode = 'BOTH' | 'LONG' | 'SHORT';

/** One row of /fapi/v2/positionRisk (or v3), amounts kept as decimals. */
export interface PositionRow {
  symbol: string;
  positionAmt: Amount;
  positionSide: PositionSideMode;
  entryPrice: Amount | null;
  markPrice: Amount | null;
  leverage: string | null;
  unrealizedProfit: Amount | null;
  /** The exchange's update time for this position (ms), 0/absent → null. */
  updateTimeMs: number | null;
}
