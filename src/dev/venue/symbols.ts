/**
 * The venue's tradable symbols and their lot-size filters, and the exchangeInfo body.
 * Defaults follow Binance USD-M: step 0.001, min 0.001; MARKET_LOT_SIZE caps the size
 * of market orders below LOT_SIZE's.
 */
import { type Amount, Decimal, parseAmount } from '../../domain/amount.js';
import { PosguardError } from '../../errors.js';

export interface VenueSymbolSpec {
  symbol: string;
  /** LOT_SIZE filter. */
  stepSize?: string;
  minQty?: string;
  maxQty?: string;
  /** MARKET_LOT_SIZE filter; `'0'` or `''` as the step reproduces a missing market step. */
  marketStepSize?: string;
  marketMinQty?: string;
  marketMaxQty?: string;
  markPrice?: string;
}

export interface SymbolFilters {
  lot: { stepSize: string; minQty: string; maxQty: string };
  market: { stepSize: string; minQty: string; maxQty: string };
}

export interface ResolvedSymbol {
  symbol: string;
  filters: SymbolFilters;
  /** The step market orders are checked against (market step, or the lot step when 0). */
  orderStep: Amount;
  orderMinQty: Amount;
  orderMaxQty: Amount;
  /** Decimal places of positionAmt in responses. */
  quantityPrecision: number;
  initialMark: Amount;
}

const SYMBOL_RE = /^[A-Z0-9]{2,32}$/;
const DEFAULT_MARKS: Record<string, string> = {
  BTCUSDT: '60000',
  ETHUSDT: '3000',
  SOLUSDT: '150',
  BNBUSDT: '600',
};
const DEFAULT_MARKET_MAX: Record<string, string> = { BTCUSDT: '120', ETHUSDT: '2000' };

export const DEFAULT_SYMBOLS: readonly string[] = ['BTCUSDT', 'ETHUSDT'];

function decimalOr(
  raw: string | undefined,
  fallback: string,
  field: string,
  symbol: string,
): string {
  const text = raw ?? fallback;
  if (text !== '' && parseAmount(text) === null) {
    throw new PosguardError(
      'USAGE',
      `venue symbol ${symbol}: ${field}=${JSON.stringify(text)} is not a decimal`,
    );
  }
  return text;
}

export function resolveSymbol(input: string | VenueSymbolSpec): ResolvedSymbol {
  const spec: VenueSymbolSpec = typeof input === 'string' ? { symbol: input } : input;
  const symbol = spec.symbol.trim().toUpperCase();
  if (!SYMBOL_RE.test(symbol))
    throw new PosguardError(
      'USAGE',
      `venue symbol ${JSON.stringify(spec.symbol)} is not like BTCUSDT`,
    );
  const d = (raw: string | undefined, fallback: string, field: string): string =>
    decimalOr(raw, fallback, field, symbol);
  const lot = {
    stepSize: d(spec.stepSize, '0.001', 'stepSize'),
    minQty: d(spec.minQty, '0.001', 'minQty'),
    maxQty: d(spec.maxQty, '1000', 'maxQty'),
  };
  const market = {
    stepSize: d(spec.marketStepSize, lot.stepSize, 'marketStepSize'),
    minQty: d(spec.marketMinQty, lot.minQty, 'marketMinQty'),
    maxQty: d(spec.marketMaxQty, DEFAULT_MARKET_MAX[symbol] ?? lot.maxQty, 'marketMaxQty'),
  };
  const marketStep = parseAmount(market.stepSize);
  const useMarket = marketStep !== null && marketStep.gt(0);
  const chosen = useMarket ? market : lot;
  const orderStep = parseAmount(chosen.stepSize);
  if (orderStep === null || !orderStep.gt(0))
    throw new PosguardError('USAGE', `venue symbol ${symbol}: stepSize must be > 0`);
  return {
    symbol,
    filters: { lot, market },
    orderStep,
    orderMinQty: parseAmount(chosen.minQty) ?? new Decimal(0),
    orderMaxQty: parseAmount(chosen.maxQty) ?? new Decimal('1e12'),
    quantityPrecision: Math.max(0, orderStep.decimalPlaces()),
    initialMark: parseAmount(spec.markPrice ?? DEFAULT_MARKS[symbol] ?? '100') ?? new Decimal(100),
  };
}

/** `count` synthetic symbols (`SIM00001USDT`…) for load tests. */
export function syntheticSymbols(count: number): string[] {
  const width = Math.max(5, String(count).length);
  return Array.from({ length: count }, (_, i) => `SIM${String(i + 1).padStart(width, '0')}USDT`);
}

export function exchangeInfoSymbol(s: ResolvedSymbol): Record<string, unknown> {
  const base = s.symbol.replace(/USDT$|USDC$|BUSD$/, '') || s.symbol;
  return {
    symbol: s.symbol,
    pair: s.symbol,
    contractType: 'PERPETUAL',
    status: 'TRADING',
    baseAsset: base,
    quoteAsset: 'USDT',
    marginAsset: 'USDT',
    pricePrecision: 2,
    quantityPrecision: s.quantityPrecision,
    filters: [
      { filterType: 'PRICE_FILTER', minPrice: '0.01', maxPrice: '1000000', tickSize: '0.01' },
      { filterType: 'LOT_SIZE', ...s.filters.lot },
      { filterType: 'MARKET_LOT_SIZE', ...s.filters.market },
      { filterType: 'MAX_NUM_ORDERS', limit: 200 },
      { filterType: 'MIN_NOTIONAL', notional: '5' },
    ],
    orderTypes: ['MARKET'],
    timeInForce: ['GTC'],
  };
}
