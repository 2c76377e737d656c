/**
 * What the simulator needs from the venue beyond the Binance API: its control API
 * (`/_control/...` of the simulated venue, over HTTP so `posguard sim` works against a
 * venue in another process exactly as the demo does against its own).
 */
import { PosguardError, errorMessage } from '../../errors.js';
import type { FaultSpec, OrderLogEntry, PositionView } from '../venue/venue.js';

export interface VenuePort {
  /** A manual trade on the account (signed: BUY > 0). */
  externalTrade(symbol: string, signedQty: string): Promise<OrderLogEntry>;
  setPosition(symbol: string, amount: string): Promise<void>;
  addFault(spec: FaultSpec): Promise<void>;
  clearFaults(): Promise<void>;
  /** The order log (api and external orders) with the position before and after each. */
  orders(sinceOrderId?: number): Promise<OrderLogEntry[]>;
  /** Signed position amount (decimal text) of one symbol. */
  positionAmt(symbol: string): Promise<string>;
}

/** The venue control API over HTTP, e.g. at BINANCE_BASE_URL of a `posguard venue`. */
export class HttpVenuePort implements VenuePort {
  readonly #base: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMs = 5000,
  ) {
    this.#base = baseUrl.replace(/\/+$/, '');
  }

  async externalTrade(symbol: string, signedQty: string): Promise<OrderLogEntry> {
    return (await this.#call('POST', '/_control/trade', {
      symbol,
      quantity: signedQty,
    })) as OrderLogEntry;
  }

  async setPosition(symbol: string, amount: string): Promise<void> {
    await this.#call('POST', '/_control/position', { symbol, amount });
  }

  async addFault(spec: FaultSpec): Promise<void> {
    await this.#call('POST', '/_control/faults', spec);
  }

  async clearFaults(): Promise<void> {
    await this.#call('DELETE', '/_control/faults');
  }

  async orders(sinceOrderId = 0): Promise<OrderLogEntry[]> {
    const reply = await this.#call('GET', `/_control/orders?since=${sinceOrderId}`);
    if (!Array.isArray(reply)) throw this.#error('GET /_control/orders did not return an array');
    return reply as OrderLogEntry[];
  }

  async positionAmt(symbol: string): Promise<string> {
    const reply = await this.#call('GET', '/_control/positions?all=true');
    const row = Array.isArray(reply)
      ? (reply as PositionView[]).find((p) => p.symbol === symbol)
      : undefined;
    if (!row) throw this.#error(`no position row for ${symbol}`);
    return row.positionAmt;
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.#base}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw this.#error(`${method} ${path}: ${errorMessage(error)}`);
    }
    const text = await response.text();
    if (!response.ok)
      throw this.#error(`${method} ${path}: HTTP ${response.status} ${text.slice(0, 200)}`);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw this.#error(`${method} ${path}: reply is not JSON`);
    }
  }

  #error(message: string): PosguardError {
    return new PosguardError(
      'EXCHANGE_HTTP',
      `venue control API (${this.#base}/_control/…): ${message}. ` +
        'Is BINANCE_BASE_URL a posguard simulated venue?',
    );
  }
}
