/**
 * Market orders and external trades on the venue: Binance's order checks (symbol, side,
 * step, min/max quantity, reduce-only never increasing or flipping), immediate fills at
 * the mark price, the order log with the position before and after every order, and
 * the user-stream events each fill produces.
 */
import { type Amount, formatAmount, parseAmount } from '../../domain/amount.js';
import type { PositionChange, VenueAccount } from './account.js';
import { type BinanceFailure, type Reply, binanceError, ok } from './http-io.js';
import type { VenueUserStream } from './user-stream.js';

export interface OrderLogEntry {
  orderId: number;
  clientOrderId: string;
  /** `api`: through POST /fapi/v1/order; `external`: a manual trade injected by the control API. */
  source: 'api' | 'external';
  symbol: string;
  side: 'BUY' | 'SELL';
  quantity: string;
  reduceOnly: boolean;
  status: 'FILLED' | 'REJECTED';
  rejectCode: number | null;
  rejectReason: string | null;
  price: string | null;
  positionBefore: string;
  positionAfter: string;
  timeMs: number;
}

const MAX_LOG = 200_000;

export class OrderDesk {
  #log: OrderLogEntry[] = [];
  #nextOrderId = 1_000_000;

  constructor(
    private readonly account: VenueAccount,
    private readonly stream: VenueUserStream,
  ) {}

  orders(sinceOrderId = 0): OrderLogEntry[] {
    return sinceOrderId <= 0 ? [...this.#log] : this.#log.filter((o) => o.orderId > sinceOrderId);
  }

  /** POST /fapi/v1/order (MARKET only). */
  place(params: URLSearchParams, nowMs: number): Reply {
    const symbol = params.get('symbol') ?? '';
    const side = params.get('side') ?? '';
    const reduceOnly = params.get('reduceOnly') === 'true';
    const quantityText = params.get('quantity') ?? '';
    const orderId = this.#nextOrderId++;
    const clientOrderId = params.get('newClientOrderId') ?? `venue-${orderId}`;
    const state = this.account.get(symbol);
    const before = state?.amount ?? null;
    const reject = (failure: BinanceFailure): Reply => {
      this.#record({
        orderId,
        clientOrderId,
        source: 'api',
        symbol,
        side: side === 'SELL' ? 'SELL' : 'BUY',
        quantity: quantityText,
        reduceOnly,
        status: 'REJECTED',
        rejectCode: failure.binanceCode,
        rejectReason: (failure.body as { msg: string }).msg,
        price: null,
        positionBefore: before === null ? '' : formatAmount(before),
        positionAfter: before === null ? '' : formatAmount(before),
        timeMs: nowMs,
      });
      return failure;
    };
    if (!state) return reject(binanceError(400, -1121, 'Invalid symbol.'));
    if (side !== 'BUY' && side !== 'SELL') return reject(binanceError(400, -1117, 'Invalid side.'));
    if (params.get('type') !== 'MARKET')
      return reject(binanceError(400, -1116, 'Invalid orderType.'));
    const quantity = parseAmount(quantityText);
    const problem = quantityProblem(quantity, state.spec);
    if (problem) return reject(problem);
    const signed = side === 'BUY' ? (quantity as Amount) : (quantity as Amount).neg();
    if (reduceOnly && !reduces(state.amount, signed))
      return reject(binanceError(400, -2022, 'ReduceOnly Order is rejected.'));
    const change = this.account.trade(symbol, signed, state.mark, nowMs);
    this.#fill({ orderId, clientOrderId, source: 'api', side, reduceOnly }, change);
    return ok(orderResult(orderId, clientOrderId, side, reduceOnly, change));
  }

  /** Someone traded by hand on the same account: the position moves, events are pushed. */
  externalTrade(
    symbol: string,
    signedQty: Amount,
    price: Amount | null,
    nowMs: number,
  ): OrderLogEntry {
    const state = this.account.require(symbol);
    const orderId = this.#nextOrderId++;
    const change = this.account.trade(symbol, signedQty, price ?? state.mark, nowMs);
    return this.#fill(
      {
        orderId,
        clientOrderId: `manual-${orderId}`,
        source: 'external',
        side: signedQty.isNegative() ? 'SELL' : 'BUY',
        reduceOnly: false,
      },
      change,
    );
  }

  /** The ACCOUNT_UPDATE for a position set by the control API. */
  pushAccountUpdate(change: PositionChange, reason: string): void {
    this.stream.broadcast(accountUpdate(change, reason));
  }

  #fill(
    order: Pick<OrderLogEntry, 'orderId' | 'clientOrderId' | 'source' | 'side' | 'reduceOnly'>,
    change: PositionChange,
  ): OrderLogEntry {
    const quantity = formatAmount(change.after.minus(change.before).abs());
    const entry: OrderLogEntry = {
      ...order,
      symbol: change.symbol,
      quantity,
      status: 'FILLED',
      rejectCode: null,
      rejectReason: null,
      price: formatAmount(change.price),
      positionBefore: formatAmount(change.before),
      positionAfter: formatAmount(change.after),
      timeMs: change.timeMs,
    };
    this.#record(entry);
    this.stream.broadcast(orderTradeUpdate(entry, change));
    this.stream.broadcast(accountUpdate(change, 'ORDER'));
    return entry;
  }

  #record(entry: OrderLogEntry): void {
    this.#log.push(entry);
    if (this.#log.length > MAX_LOG) this.#log = this.#log.slice(-Math.floor(MAX_LOG / 2));
  }
}

function quantityProblem(
  quantity: Amount | null,
  spec: { orderStep: Amount; orderMinQty: Amount; orderMaxQty: Amount },
): BinanceFailure | null {
  if (quantity === null)
    return binanceError(
      400,
      -1102,
      "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
    );
  if (!quantity.gt(0)) return binanceError(400, -4003, 'Quantity less than or equal to zero.');
  if (!quantity.mod(spec.orderStep).isZero())
    return binanceError(400, -1111, 'Precision is over the maximum defined for this asset.');
  if (quantity.lt(spec.orderMinQty))
    return binanceError(400, -4004, 'Quantity less than minimum quantity.');
  if (quantity.gt(spec.orderMaxQty))
    return binanceError(400, -4005, 'Quantity greater than maximum quantity.');
  return null;
}

/** A reduce-only order must shrink the position without crossing zero. */
function reduces(position: Amount, signedQty: Amount): boolean {
  if (position.isZero() || position.isNegative() === signedQty.isNegative()) return false;
  return signedQty.abs().lte(position.abs());
}

function orderResult(
  orderId: number,
  clientOrderId: string,
  side: string,
  reduceOnly: boolean,
  change: PositionChange,
): Record<string, unknown> {
  const qty = formatAmount(change.after.minus(change.before).abs());
  return {
    orderId,
    symbol: change.symbol,
    status: 'FILLED',
    clientOrderId,
    price: '0',
    avgPrice: formatAmount(change.price),
    origQty: qty,
    executedQty: qty,
    cumQty: qty,
    cumQuote: formatAmount(change.price.mul(qty)),
    timeInForce: 'GTC',
    type: 'MARKET',
    reduceOnly,
    closePosition: false,
    side,
    positionSide: 'BOTH',
    stopPrice: '0',
    workingType: 'CONTRACT_PRICE',
    priceProtect: false,
    origType: 'MARKET',
    updateTime: change.timeMs,
  };
}

function orderTradeUpdate(entry: OrderLogEntry, change: PositionChange): Record<string, unknown> {
  return {
    e: 'ORDER_TRADE_UPDATE',
    E: change.timeMs,
    T: change.timeMs,
    o: {
      s: entry.symbol,
      c: entry.clientOrderId,
      S: entry.side,
      o: 'MARKET',
      f: 'GTC',
      q: entry.quantity,
      p: '0',
      ap: entry.price,
      sp: '0',
      x: 'TRADE',
      X: 'FILLED',
      i: entry.orderId,
      l: entry.quantity,
      z: entry.quantity,
      L: entry.price,
      N: 'USDT',
      n: '0',
      T: change.timeMs,
      t: entry.orderId,
      b: '0',
      a: '0',
      m: false,
      R: entry.reduceOnly,
      wt: 'CONTRACT_PRICE',
      ot: 'MARKET',
      ps: 'BOTH',
      cp: false,
      rp: '0',
    },
  };
}

function accountUpdate(change: PositionChange, reason: string): Record<string, unknown> {
  return {
    e: 'ACCOUNT_UPDATE',
    E: change.timeMs,
    T: change.timeMs,
    a: {
      m: reason,
      B: [{ a: 'USDT', wb: '100000', cw: '100000', bc: '0' }],
      P: [
        {
          s: change.symbol,
          pa: formatAmount(change.after),
          ep: formatAmount(change.entryPrice),
          bep: formatAmount(change.entryPrice),
          cr: '0',
          up: '0',
          mt: 'cross',
          iw: '0',
          ps: 'BOTH',
        },
      ],
    },
  };
}
