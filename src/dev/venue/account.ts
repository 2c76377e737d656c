/**
 * The venue's single account in one-way mode: a signed position per symbol, mark
 * prices, trades (our orders and "external" manual trades), and the positionRisk rows.
 * Rows are serialised once per change so positionRisk stays cheap at 50 000 symbols.
 */
import { type Amount, Decimal, ZERO, formatAmount } from '../../domain/amount.js';
import { PosguardError } from '../../errors.js';
import type { ResolvedSymbol } from './symbols.js';

export interface SymbolState {
  spec: ResolvedSymbol;
  amount: Amount;
  entryPrice: Amount;
  mark: Amount;
  updateTimeMs: number;
  rowV2: string | null;
  rowV3: string | null;
}

export interface PositionChange {
  symbol: string;
  before: Amount;
  after: Amount;
  price: Amount;
  entryPrice: Amount;
  timeMs: number;
}

export interface PositionView {
  symbol: string;
  positionAmt: string;
  entryPrice: string;
  markPrice: string;
  unRealizedProfit: string;
  updateTime: number;
}

export class VenueAccount {
  readonly #symbols = new Map<string, SymbolState>();
  /** Bumped on every change; invalidates the cached full bodies. */
  #revision = 0;
  #bodyCache = new Map<string, { revision: number; text: string }>();

  upsertSymbol(spec: ResolvedSymbol): void {
    const existing = this.#symbols.get(spec.symbol);
    if (existing) {
      existing.spec = spec;
      this.#touch(existing);
      return;
    }
    this.#symbols.set(spec.symbol, {
      spec,
      amount: ZERO,
      entryPrice: ZERO,
      mark: spec.initialMark,
      updateTimeMs: 0,
      rowV2: null,
      rowV3: null,
    });
    this.#revision += 1;
  }

  symbols(): IterableIterator<SymbolState> {
    return this.#symbols.values();
  }

  get(symbol: string): SymbolState | undefined {
    return this.#symbols.get(symbol);
  }

  require(symbol: string): SymbolState {
    const state = this.#symbols.get(symbol);
    if (!state) throw new PosguardError('NOT_FOUND', `venue has no symbol ${symbol}`);
    return state;
  }

  setMark(symbol: string, price: Amount): void {
    if (!price.gt(0)) throw new PosguardError('USAGE', 'mark price must be > 0');
    const state = this.require(symbol);
    state.mark = price;
    this.#touch(state);
  }

  setPosition(
    symbol: string,
    amount: Amount,
    entryPrice: Amount | null,
    nowMs: number,
  ): PositionChange {
    const state = this.require(symbol);
    const before = state.amount;
    state.amount = amount;
    state.entryPrice = amount.isZero() ? ZERO : (entryPrice ?? state.mark);
    state.updateTimeMs = nowMs;
    this.#touch(state);
    return {
      symbol,
      before,
      after: amount,
      price: state.entryPrice,
      entryPrice: state.entryPrice,
      timeMs: nowMs,
    };
  }

  /** A fill of `signedQty` (BUY > 0) at `price`: averages in, keeps the entry on reduce, resets on flip. */
  trade(symbol: string, signedQty: Amount, price: Amount, nowMs: number): PositionChange {
    const state = this.require(symbol);
    const before = state.amount;
    const after = before.plus(signedQty);
    state.entryPrice = nextEntryPrice(before, after, state.entryPrice, price);
    state.amount = after.isZero() ? ZERO : after;
    state.updateTimeMs = nowMs;
    this.#touch(state);
    return {
      symbol,
      before,
      after: state.amount,
      price,
      entryPrice: state.entryPrice,
      timeMs: nowMs,
    };
  }

  view(state: SymbolState): PositionView {
    return {
      symbol: state.spec.symbol,
      positionAmt: formatAmount(state.amount),
      entryPrice: formatAmount(state.entryPrice),
      markPrice: formatAmount(state.mark),
      unRealizedProfit: formatAmount(unrealized(state)),
      updateTime: state.updateTimeMs,
    };
  }

  /**
   * The positionRisk body. v2 lists every symbol, flat ones included; v3 lists only
   * symbols with a position (as Binance does).
   */
  positionRiskBody(version: 'v2' | 'v3'): string {
    const cached = this.#bodyCache.get(version);
    if (cached && cached.revision === this.#revision) return cached.text;
    const rows: string[] = [];
    for (const state of this.#symbols.values()) {
      if (version === 'v3' && state.amount.isZero()) continue;
      rows.push(
        version === 'v2'
          ? (state.rowV2 ??= JSON.stringify(rowV2(state)))
          : (state.rowV3 ??= JSON.stringify(rowV3(state))),
      );
    }
    const text = `[${rows.join(',')}]`;
    this.#bodyCache.set(version, { revision: this.#revision, text });
    return text;
  }

  /**
   * The positionRisk body for one symbol (`symbol=`): v2 its row, flat or not; v3 its row
   * only when it holds a position. null when the venue does not list the symbol.
   */
  positionRiskBodyFor(version: 'v2' | 'v3', symbol: string): string | null {
    const state = this.#symbols.get(symbol);
    if (!state) return null;
    if (version === 'v3' && state.amount.isZero()) return '[]';
    return version === 'v2'
      ? `[${(state.rowV2 ??= JSON.stringify(rowV2(state)))}]`
      : `[${(state.rowV3 ??= JSON.stringify(rowV3(state)))}]`;
  }

  /** Rows as objects (for fault shaping: hedge mode, omitted symbols, wrong types). */
  positionRiskRows(version: 'v2' | 'v3'): Record<string, unknown>[] {
    return JSON.parse(this.positionRiskBody(version)) as Record<string, unknown>[];
  }

  #touch(state: SymbolState): void {
    state.rowV2 = null;
    state.rowV3 = null;
    this.#revision += 1;
  }
}

function nextEntryPrice(before: Amount, after: Amount, entry: Amount, price: Amount): Amount {
  if (after.isZero()) return ZERO;
  if (before.isZero() || before.isNegative() !== after.isNegative()) return price;
  if (after.abs().lte(before.abs())) return entry;
  const added = after.minus(before).abs();
  return before
    .abs()
    .mul(entry)
    .plus(added.mul(price))
    .div(after.abs())
    .toDecimalPlaces(8, Decimal.ROUND_HALF_EVEN);
}

function unrealized(state: SymbolState): Amount {
  if (state.amount.isZero()) return ZERO;
  return state.amount
    .mul(state.mark.minus(state.entryPrice))
    .toDecimalPlaces(8, Decimal.ROUND_HALF_EVEN);
}

function common(state: SymbolState): Record<string, string> {
  const notional = state.amount.mul(state.mark).toDecimalPlaces(8, Decimal.ROUND_HALF_EVEN);
  return {
    symbol: state.spec.symbol,
    positionAmt: state.amount.toFixed(state.spec.quantityPrecision),
    entryPrice: state.entryPrice.toFixed(Math.max(1, state.entryPrice.decimalPlaces())),
    breakEvenPrice: state.entryPrice.toFixed(Math.max(1, state.entryPrice.decimalPlaces())),
    markPrice: state.mark.toFixed(8),
    unRealizedProfit: unrealized(state).toFixed(8),
    liquidationPrice: '0',
    isolatedMargin: '0.00000000',
    notional: notional.toFixed(),
    isolatedWallet: '0',
  };
}

function rowV2(state: SymbolState): Record<string, unknown> {
  return {
    ...common(state),
    leverage: '20',
    maxNotionalValue: '50000000',
    marginType: 'cross',
    isAutoAddMargin: 'false',
    positionSide: 'BOTH',
    updateTime: state.updateTimeMs,
  };
}

function rowV3(state: SymbolState): Record<string, unknown> {
  return {
    ...common(state),
    positionSide: 'BOTH',
    marginAsset: 'USDT',
    initialMargin: '0',
    maintMargin: '0',
    positionInitialMargin: '0',
    openOrderInitialMargin: '0',
    adl: 0,
    bidNotional: '0',
    askNotional: '0',
    updateTime: state.updateTimeMs,
  };
}
