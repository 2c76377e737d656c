/**
 * The Binance USD-M REST response shapes posguard relies on, validated with zod and
 * mapped to the exchange types. A response that does not match is rejected whole
 * (EXCHANGE_RESPONSE_INVALID): a position is never guessed from a half-valid payload.
 */
import { z } from 'zod';
import { type Amount, parseAmount } from '../domain/amount.js';
import { type LotSize, decodeLotSize } from '../domain/lot-size.js';
import type { OrderResult, PositionRow } from './types.js';

/** A decimal string (never a JSON number: that would already have gone through a float). */
export const decimal = z.string().transform((text, ctx): Amount => {
  const value = parseAmount(text);
  if (value === null) {
    ctx.addIssue({ code: 'custom', message: 'not a decimal string' });
    return z.NEVER;
  }
  return value;
});

const optionalDecimal = decimal.optional();
const epochMs = z.number().int().nonnegative();

const positionRiskRow = z.object({
  symbol: z.string().min(1),
  positionAmt: decimal,
  positionSide: z.enum(['BOTH', 'LONG', 'SHORT']),
  entryPrice: optionalDecimal,
  markPrice: optionalDecimal,
  unRealizedProfit: optionalDecimal,
  /** v2 only; v3 dropped it. */
  leverage: z.string().optional(),
  updateTime: epochMs.optional(),
});

export const positionRiskSchema = z.array(positionRiskRow);

export function toPositionRows(rows: z.output<typeof positionRiskSchema>): PositionRow[] {
  return rows.map((row) => ({
    symbol: row.symbol,
    positionAmt: row.positionAmt,
    positionSide: row.positionSide,
    entryPrice: row.entryPrice ?? null,
    markPrice: row.markPrice ?? null,
    leverage: row.leverage ?? null,
    unrealizedProfit: row.unRealizedProfit ?? null,
    updateTimeMs: row.updateTime === undefined || row.updateTime === 0 ? null : row.updateTime,
  }));
}

const lotFilter = z.object({
  filterType: z.string(),
  stepSize: z.string().optional(),
  minQty: z.string().optional(),
  maxQty: z.string().optional(),
});
type LotFilter = z.output<typeof lotFilter>;

const exchangeInfoSymbol = z.object({
  symbol: z.string().min(1),
  filters: z.array(z.looseObject({ filterType: z.string() })),
});

export const exchangeInfoSchema = z.object({ symbols: z.array(exchangeInfoSymbol) });

function decodeFilter(filter: LotFilter | undefined): LotSize | null {
  if (filter === undefined) return null;
  return decodeLotSize({
    step_size: filter.stepSize ?? '',
    min_qty: filter.minQty ?? '',
    max_qty: filter.maxQty ?? '',
  });
}

/**
 * `MARKET_LOT_SIZE` (what market orders are checked against), falling back to
 * `LOT_SIZE` when the market filter's step is missing or zero. A symbol with neither
 * is left out: its lot size is unknown and the brain denies (SPEC §5 check 9).
 */
export function lotSizeOf(filters: readonly unknown[]): LotSize | null {
  const parsed = filters
    .map((f) => lotFilter.safeParse(f))
    .flatMap((r) => (r.success ? [r.data] : []));
  const market = parsed.find((f) => f.filterType === 'MARKET_LOT_SIZE');
  const limit = parsed.find((f) => f.filterType === 'LOT_SIZE');
  return decodeFilter(market) ?? decodeFilter(limit);
}

export function toLotSizes(info: z.output<typeof exchangeInfoSchema>): Map<string, LotSize> {
  const sizes = new Map<string, LotSize>();
  for (const symbol of info.symbols) {
    const lot = lotSizeOf(symbol.filters);
    if (lot !== null) sizes.set(symbol.symbol, lot);
  }
  return sizes;
}

const orderId = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)]);

export const orderResultSchema = z.object({
  orderId,
  symbol: z.string().min(1),
  side: z.enum(['BUY', 'SELL']),
  status: z.string().min(1),
  executedQty: decimal,
  avgPrice: optionalDecimal,
  updateTime: epochMs,
});

export function toOrderResult(order: z.output<typeof orderResultSchema>): OrderResult {
  return {
    orderId: String(order.orderId),
    symbol: order.symbol,
    side: order.side,
    status: order.status,
    executedQty: order.executedQty,
    avgPrice: order.avgPrice !== undefined && order.avgPrice.gt(0) ? order.avgPrice : null,
    updateTimeMs: order.updateTime,
  };
}

export const serverTimeSchema = z.object({ serverTime: epochMs });
export const listenKeySchema = z.object({ listenKey: z.string().min(1) });

/** `{"code": -2015, "msg": "..."}` on Binance errors. */
export const binanceErrorSchema = z.object({ code: z.number().int(), msg: z.string() });
