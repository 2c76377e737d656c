/**
 * The venue's control surface, as library methods (tests, demo, benchmarks); the HTTP
 * control API under `/_control/...` maps one-to-one onto these.
 */
import { type Amount, parseAmount } from '../../domain/amount.js';
import { PosguardError } from '../../errors.js';
import type { PositionView } from './account.js';
import type { VenueContext, VenueRequest } from './binance-routes.js';
import type { ActiveFault, FaultSpec } from './faults.js';
import type { OrderLogEntry } from './order-desk.js';
import { type VenueSymbolSpec, resolveSymbol } from './symbols.js';

export type DecimalInput = string | number;

function amountArg(name: string, raw: DecimalInput | undefined): Amount {
  const value = parseAmount(raw);
  if (value === null)
    throw new PosguardError('USAGE', `${name} must be a decimal (got ${JSON.stringify(raw)})`);
  return value;
}

export class VenueControl {
  constructor(
    private readonly ctx: VenueContext,
    private readonly clock: { skewMs: number },
  ) {}

  /** Positions; flat symbols only with `all` (there may be 50 000 of them). */
  positions(options: { all?: boolean } = {}): PositionView[] {
    const out: PositionView[] = [];
    for (const state of this.ctx.account.symbols()) {
      if (options.all === true || !state.amount.isZero()) out.push(this.ctx.account.view(state));
    }
    return out;
  }

  position(symbol: string): PositionView {
    return this.ctx.account.view(this.ctx.account.require(symbol));
  }

  /** Sets a position directly (signed; `entryPrice` defaults to the mark). Pushes ACCOUNT_UPDATE. */
  setPosition(symbol: string, amount: DecimalInput, entryPrice?: DecimalInput): PositionView {
    const entry = entryPrice === undefined ? null : amountArg('entryPrice', entryPrice);
    const change = this.ctx.account.setPosition(
      symbol,
      amountArg('amount', amount),
      entry,
      this.ctx.nowMs(),
    );
    this.ctx.desk.pushAccountUpdate(change, 'ADJUSTMENT');
    return this.position(symbol);
  }

  setMarkPrice(symbol: string, price: DecimalInput): PositionView {
    this.ctx.account.setMark(symbol, amountArg('price', price));
    return this.position(symbol);
  }

  /** A manual trade on the account (signed quantity: BUY > 0), at `price` or the mark. */
  externalTrade(symbol: string, quantity: DecimalInput, price?: DecimalInput): OrderLogEntry {
    const qty = amountArg('quantity', quantity);
    if (qty.isZero()) throw new PosguardError('USAGE', 'quantity must not be 0');
    const at = price === undefined ? null : amountArg('price', price);
    return this.ctx.desk.externalTrade(symbol, qty, at, this.ctx.nowMs());
  }

  orders(sinceOrderId?: number): OrderLogEntry[] {
    return this.ctx.desk.orders(sinceOrderId);
  }

  upsertSymbol(spec: string | VenueSymbolSpec): void {
    this.ctx.account.upsertSymbol(resolveSymbol(spec));
  }

  /** Requests per Binance endpoint path since start (or the last reset), faulted ones included. */
  requestCounts(): Record<string, number> {
    return Object.fromEntries(this.ctx.requestCounts);
  }

  resetRequestCounts(): void {
    this.ctx.requestCounts.clear();
    this.ctx.requestLog.length = 0;
  }

  /** The last Binance requests (at most 1 000), oldest first, with their `symbol` parameter. */
  requestLog(): VenueRequest[] {
    return this.ctx.requestLog.map((r) => ({ ...r }));
  }

  usedWeight1m(): number {
    return this.ctx.weights.used(this.ctx.nowMs());
  }

  addFault(spec: FaultSpec): ActiveFault {
    return this.ctx.faults.add(spec, this.ctx.nowMs());
  }

  faults(): ActiveFault[] {
    return this.ctx.faults.list(this.ctx.nowMs());
  }

  clearFaults(): void {
    this.ctx.faults.clear();
  }

  /** Moves the venue clock (positive: ahead of ours); large skews make signed calls fail with -1021. */
  setClockSkew(ms: number): void {
    if (!Number.isInteger(ms)) throw new PosguardError('USAGE', 'skewMs must be an integer');
    this.clock.skewMs = ms;
  }

  clockSkewMs(): number {
    return this.clock.skewMs;
  }

  /** Cuts every user-data WebSocket without a close handshake. Returns how many. */
  dropWebSockets(): number {
    return this.ctx.stream.dropAll();
  }

  /** Keeps every user-data socket open but sends nothing (true) until unmuted (false). */
  muteUserStream(muted: boolean): void {
    this.ctx.stream.setMuted(muted);
  }

  /** Sends `listenKeyExpired` and invalidates the key. */
  expireListenKey(): void {
    this.ctx.stream.expire(this.ctx.nowMs());
  }

  wsConnections(): number {
    return this.ctx.stream.connectionCount();
  }
}
