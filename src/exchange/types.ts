/**
 * The exchange surface the brain and the simulator use. Implemented over real HTTP and
 * WebSocket by the Binance USD-M client (`binance-client.ts`), which the tests, the demo
 * and the benchmarks point at the simulated venue.
 */
import type { Amount } from '../domain/amount.js';
import type { LotSize } from '../domain/lot-size.js';
import { PosguardError, type ErrorCode } from '../errors.js';

import type { PositionRow } from '../domain/position-row.js';
export type { PositionRow, PositionSideMode } from '../domain/position-row.js';

export interface OrderRequest {
  symbol: string;
  side: 'BUY' | 'SELL';
  /** Decimal string, already a multiple of the step. */
  quantity: string;
  reduceOnly: boolean;
  newClientOrderId?: string;
}

export interface OrderResult {
  orderId: string;
  symbol: string;
  side: 'BUY' | 'SELL';
  status: string;
  executedQty: Amount;
  avgPrice: Amount | null;
  updateTimeMs: number;
}

/** The REST calls posguard makes. One positionRisk call covers every symbol (SPEC §3). */
export interface FuturesRestClient {
  /** Measures the offset to the exchange clock (`/fapi/v1/time`). */
  syncTime(): Promise<void>;
  /**
   * All positions of the account in one signed request; with `symbol`, that symbol's only
   * (`symbol=`: a small answer, same request weight — for the refresh after our own fill).
   */
  positionRisk(symbol?: string): Promise<PositionRow[]>;
  /** Lot sizes per symbol (`MARKET_LOT_SIZE`, falling back to `LOT_SIZE`). */
  lotSizes(): Promise<Map<string, LotSize>>;
  placeOrder(order: OrderRequest): Promise<OrderResult>;
  /** Last `X-MBX-USED-WEIGHT-1M` seen, or null. */
  usedWeight1m(): number | null;
  /** While > now, every call fails fast with EXCHANGE_RATE_LIMITED (Retry-After honoured). */
  pausedUntilMs(): number;
}

/** The user-data stream's listenKey calls (API-key header, unsigned). One key per account. */
export interface ListenKeyApi {
  /** Creates the account's listenKey, or returns the active one and extends it. */
  createListenKey(): Promise<string>;
  keepAliveListenKey(): Promise<void>;
  closeListenKey(): Promise<void>;
}

export class ExchangeError extends PosguardError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly details: {
      httpStatus?: number;
      binanceCode?: number;
      retryAfterMs?: number;
      endpoint?: string;
      /** An order request whose outcome is unknown (timeout, 5xx): read positions before retrying. */
      executionUnknown?: boolean;
    } = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'ExchangeError';
  }
}
