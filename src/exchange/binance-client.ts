/**
 * Binance USD-M futures REST client on global fetch (no SDK), implementing
 * FuturesRestClient (SPEC §3): HMAC-signed requests, clock offset from /fapi/v1/time
 * measured at start and again on -1021, one positionRisk request for every symbol (or,
 * after a fill, for one symbol with `symbol=`),
 * lot sizes from exchangeInfo, reduce-only market orders, listenKey calls, and the
 * Retry-After pause shared by every call. Amounts stay decimals end to end.
 */
import { type Amount, formatAmount, parseAmount } from '../domain/amount.js';
import type { LotSize } from '../domain/lot-size.js';
import type { Clock } from '../domain/time.js';
import type { BinanceConfig } from '../config/config.js';
import { PosguardError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { z } from 'zod';
import {
  exchangeInfoSchema,
  listenKeySchema,
  orderResultSchema,
  positionRiskSchema,
  serverTimeSchema,
  toLotSizes,
  toOrderResult,
  toPositionRows,
} from './schemas.js';
import { type ExchangeRequestEvent, type HttpMethod, RestTransport } from './rest-transport.js';
import { type QueryParams, encodeQuery, signQuery } from './signing.js';
import {
  ExchangeError,
  type FuturesRestClient,
  type ListenKeyApi,
  type OrderRequest,
  type OrderResult,
  type PositionRow,
} from './types.js';

export type { ExchangeRequestEvent } from './rest-transport.js';

/** Binance: "Timestamp for this request is outside of the recvWindow." */
export const BINANCE_TIMESTAMP_OUTSIDE_RECV_WINDOW = -1021;
/** Offsets that move by less than this are not worth a log line. */
const OFFSET_LOG_THRESHOLD_MS = 250;

export interface BinanceClientOptions {
  baseUrl: string;
  apiKey: string | undefined;
  apiSecret: string | undefined;
  recvWindowMs: number;
  timeoutMs: number;
  positionRiskVersion: 'v2' | 'v3';
  clock: Clock;
  logger: Logger;
  onRequest?: (event: ExchangeRequestEvent) => void;
}

export function binanceClientFromConfig(
  config: BinanceConfig,
  deps: Pick<BinanceClientOptions, 'clock' | 'logger' | 'onRequest'>,
): BinanceClient {
  return new BinanceClient({
    baseUrl: config.baseUrl,
    apiKey: config.apiKey,
    apiSecret: config.apiSecret,
    recvWindowMs: config.recvWindowMs,
    timeoutMs: config.timeoutMs,
    positionRiskVersion: config.positionRiskVersion,
    ...deps,
  });
}

export class BinanceClient implements FuturesRestClient, ListenKeyApi {
  readonly #transport: RestTransport;
  readonly #options: BinanceClientOptions;
  #offsetMs = 0;
  #synced = false;
  #resync: Promise<void> | null = null;

  constructor(options: BinanceClientOptions) {
    this.#options = options;
    this.#transport = new RestTransport({
      baseUrl: options.baseUrl,
      apiKey: options.apiKey,
      secrets: [options.apiKey ?? '', options.apiSecret ?? ''],
      timeoutMs: options.timeoutMs,
      clock: options.clock,
      logger: options.logger,
      ...(options.onRequest ? { onRequest: options.onRequest } : {}),
    });
  }

  usedWeight1m(): number | null {
    return this.#transport.gate.usedWeight1m();
  }

  pausedUntilMs(): number {
    return this.#transport.gate.pausedUntilMs();
  }

  /** Exchange clock minus ours, as last measured (0 before the first sync). */
  timeOffsetMs(): number {
    return this.#offsetMs;
  }

  async syncTime(): Promise<void> {
    const { clock, logger } = this.#options;
    const sentMs = clock.nowMs();
    const body = await this.#public('GET', '/fapi/v1/time');
    const receivedMs = clock.nowMs();
    const { serverTime } = this.#validate('/fapi/v1/time', serverTimeSchema, body);
    const offsetMs = serverTime - Math.round((sentMs + receivedMs) / 2);
    if (!this.#synced || Math.abs(offsetMs - this.#offsetMs) >= OFFSET_LOG_THRESHOLD_MS) {
      logger.info({ offsetMs, roundTripMs: receivedMs - sentMs }, 'binance clock offset measured');
    }
    this.#offsetMs = offsetMs;
    this.#synced = true;
  }

  async positionRisk(symbol?: string): Promise<PositionRow[]> {
    const path = `/fapi/${this.#options.positionRiskVersion}/positionRisk`;
    const body = await this.#signed('GET', path, symbol === undefined ? {} : { symbol });
    return toPositionRows(this.#validate(path, positionRiskSchema, body));
  }

  async lotSizes(): Promise<Map<string, LotSize>> {
    const path = '/fapi/v1/exchangeInfo';
    return toLotSizes(this.#validate(path, exchangeInfoSchema, await this.#public('GET', path)));
  }

  async placeOrder(order: OrderRequest): Promise<OrderResult> {
    const path = '/fapi/v1/order';
    const params: QueryParams = {
      symbol: order.symbol,
      side: order.side,
      type: 'MARKET',
      quantity: formatAmount(orderQuantity(order.quantity)),
      reduceOnly: order.reduceOnly ? 'true' : 'false',
      newOrderRespType: 'RESULT',
    };
    if (order.newClientOrderId !== undefined) params.newClientOrderId = order.newClientOrderId;
    try {
      return toOrderResult(
        this.#validate(path, orderResultSchema, await this.#signed('POST', path, params)),
      );
    } catch (error) {
      throw markExecutionUnknown(error);
    }
  }

  async createListenKey(): Promise<string> {
    const path = '/fapi/v1/listenKey';
    const body = await this.#withApiKey('POST', path);
    return this.#validate(path, listenKeySchema, body).listenKey;
  }

  async keepAliveListenKey(): Promise<void> {
    await this.#withApiKey('PUT', '/fapi/v1/listenKey');
  }

  async closeListenKey(): Promise<void> {
    await this.#withApiKey('DELETE', '/fapi/v1/listenKey');
  }

  async #public(method: HttpMethod, path: string): Promise<unknown> {
    return this.#transport.send({ method, path, query: '', withApiKey: false });
  }

  async #withApiKey(method: HttpMethod, path: string): Promise<unknown> {
    this.#requireCredentials(path);
    return this.#transport.send({ method, path, query: '', withApiKey: true });
  }

  /** A signed call; a -1021 re-measures the clock offset and retries once. */
  async #signed(method: HttpMethod, path: string, params: QueryParams): Promise<unknown> {
    const secret = this.#requireCredentials(path);
    const send = (): Promise<unknown> => {
      this.#transport.assertNotPaused({ method, path });
      const query = encodeQuery({
        ...params,
        recvWindow: String(this.#options.recvWindowMs),
        timestamp: String(this.#options.clock.nowMs() + this.#offsetMs),
      });
      return this.#transport.send({
        method,
        path,
        query: signQuery(query, secret),
        withApiKey: true,
      });
    };
    try {
      return await send();
    } catch (error) {
      if (
        !(error instanceof ExchangeError) ||
        error.details.binanceCode !== BINANCE_TIMESTAMP_OUTSIDE_RECV_WINDOW
      ) {
        throw error;
      }
      this.#options.logger.warn(
        { endpoint: path },
        'binance -1021 (timestamp outside recvWindow): resyncing clock and retrying once',
      );
      await this.#resyncOnce();
      return send();
    }
  }

  /** Concurrent -1021s share one /fapi/v1/time request. */
  async #resyncOnce(): Promise<void> {
    this.#resync ??= this.syncTime().finally(() => {
      this.#resync = null;
    });
    return this.#resync;
  }

  #requireCredentials(path: string): string {
    const { apiKey, apiSecret } = this.#options;
    if (apiKey === undefined || apiKey === '' || apiSecret === undefined || apiSecret === '') {
      throw new PosguardError(
        'CONFIG_INVALID',
        `${path} needs Binance credentials: set BINANCE_API_KEY and BINANCE_API_SECRET`,
      );
    }
    return apiSecret;
  }

  #validate<S extends z.ZodType>(path: string, schema: S, body: unknown): z.output<S> {
    const result = schema.safeParse(body);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    const where =
      issue === undefined ? '' : ` at ${issue.path.join('.') || '<root>'}: ${issue.message}`;
    throw new ExchangeError(
      'EXCHANGE_RESPONSE_INVALID',
      `${path}: unexpected response shape${where}`,
      { endpoint: path },
    );
  }
}

function orderQuantity(text: string): Amount {
  const quantity = parseAmount(text);
  if (quantity === null || !quantity.gt(0)) {
    throw new PosguardError(
      'USAGE',
      `order not sent: quantity ${JSON.stringify(text)} is not a positive decimal`,
    );
  }
  return quantity;
}

/** After a timeout or a 5xx the order may have executed: the caller must read positions first. */
function markExecutionUnknown(error: unknown): unknown {
  if (!(error instanceof ExchangeError)) return error;
  const unknownOutcome =
    error.code === 'EXCHANGE_TIMEOUT' ||
    (error.code === 'EXCHANGE_HTTP' &&
      (error.details.httpStatus === undefined || error.details.httpStatus >= 500)) ||
    error.code === 'EXCHANGE_RESPONSE_INVALID';
  if (!unknownOutcome) return error;
  return new ExchangeError(error.code, `${error.message} (order execution status unknown)`, {
    ...error.details,
    executionUnknown: true,
  });
}
