/**
 * One HTTP exchange with Binance: the rate-limit gate, a bounded timeout, weight
 * tracking, and the mapping of every failure to an ExchangeError with a stable code.
 * Messages name the method and path only; the query (timestamp, signature) and the
 * API key never appear in an error, a log line or the metrics hook.
 */
import type { Logger } from '../observability/logger.js';
import type { Clock } from '../domain/time.js';
import type { ErrorCode } from '../errors.js';
import { binanceErrorSchema } from './schemas.js';
import { RateLimitGate } from './rate-limit-gate.js';
import { ExchangeError } from './types.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** What the brain counts: one event per call, including calls refused by the gate. */
export interface ExchangeRequestEvent {
  endpoint: string;
  method: HttpMethod;
  /** HTTP status, or null when no response arrived (timeout, network, rate-limit pause). */
  status: number | null;
  durationMs: number;
  /** Last `X-MBX-USED-WEIGHT-1M` seen. */
  weight: number | null;
  error?: ErrorCode;
}

export interface TransportOptions {
  baseUrl: string;
  apiKey: string | undefined;
  /** Strings that must never appear in an error message (the key and the secret). */
  secrets: readonly string[];
  timeoutMs: number;
  clock: Clock;
  logger: Logger;
  onRequest?: (event: ExchangeRequestEvent) => void;
}

export interface RestCall {
  method: HttpMethod;
  path: string;
  /** Already encoded (and signed when needed); empty for none. */
  query: string;
  withApiKey: boolean;
}

export class RestTransport {
  readonly gate: RateLimitGate;
  readonly #baseUrl: string;

  constructor(private readonly options: TransportOptions) {
    this.gate = new RateLimitGate(options.clock);
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  /** Refuses without a request while a Retry-After pause lasts. */
  assertNotPaused(call: Pick<RestCall, 'method' | 'path'>): void {
    const remaining = this.gate.remainingMs();
    if (remaining <= 0) return;
    const error = new ExchangeError(
      'EXCHANGE_RATE_LIMITED',
      `${call.method} ${call.path}: not sent, Binance rate-limit pause for another ${Math.ceil(remaining / 1000)} s (Retry-After)`,
      { endpoint: call.path, retryAfterMs: remaining },
    );
    this.#report(call, null, 0, error.code);
    throw error;
  }

  /** Sends the call and returns the parsed JSON body of a 2xx response. */
  async send(call: RestCall): Promise<unknown> {
    this.assertNotPaused(call);
    const started = performance.now();
    let status: number | null = null;
    try {
      const response = await this.#fetch(call);
      status = response.status;
      this.gate.noteWeight(response.headers.get('x-mbx-used-weight-1m'));
      const text = await response.text();
      const body = this.#interpret(call, response, text);
      this.#report(call, status, performance.now() - started);
      return body;
    } catch (error) {
      const mapped = this.#mapFailure(call, error);
      this.#report(call, status, performance.now() - started, mapped.code);
      throw mapped;
    }
  }

  async #fetch(call: RestCall): Promise<Response> {
    const url = `${this.#baseUrl}${call.path}${call.query === '' ? '' : `?${call.query}`}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (call.withApiKey && this.options.apiKey !== undefined)
      headers['X-MBX-APIKEY'] = this.options.apiKey;
    return fetch(url, {
      method: call.method,
      headers,
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
  }

  #interpret(call: RestCall, response: Response, text: string): unknown {
    const where = `${call.method} ${call.path}`;
    if (response.status === 429 || response.status === 418) {
      const pause = this.gate.pause(response.status, response.headers.get('retry-after'));
      this.options.logger.warn(
        {
          endpoint: call.path,
          status: pause.status,
          retryAfterMs: pause.retryAfterMs,
          pausedUntilMs: pause.pausedUntilMs,
        },
        'binance rate limit: pausing every call until Retry-After has passed',
      );
      throw new ExchangeError(
        'EXCHANGE_RATE_LIMITED',
        `${where}: HTTP ${response.status} (${response.status === 418 ? 'IP banned' : 'too many requests'}), pausing all calls for ${Math.ceil(pause.retryAfterMs / 1000)} s`,
        { httpStatus: response.status, retryAfterMs: pause.retryAfterMs, endpoint: call.path },
      );
    }
    const parsed = parseJson(text);
    if (!response.ok) throw this.#httpError(call, response.status, parsed);
    if (parsed === PARSE_FAILED) {
      throw new ExchangeError('EXCHANGE_RESPONSE_INVALID', `${where}: response body is not JSON`, {
        httpStatus: response.status,
        endpoint: call.path,
      });
    }
    return parsed;
  }

  #httpError(call: RestCall, status: number, parsed: unknown): ExchangeError {
    const where = `${call.method} ${call.path}`;
    const body = binanceErrorSchema.safeParse(parsed);
    if (!body.success) {
      return new ExchangeError('EXCHANGE_HTTP', `${where}: HTTP ${status}`, {
        httpStatus: status,
        endpoint: call.path,
      });
    }
    const code: ErrorCode = status >= 500 ? 'EXCHANGE_HTTP' : 'EXCHANGE_REJECTED';
    return new ExchangeError(
      code,
      `${where}: HTTP ${status}, Binance ${body.data.code}: ${this.#scrub(body.data.msg)}`,
      {
        httpStatus: status,
        binanceCode: body.data.code,
        endpoint: call.path,
      },
    );
  }

  #mapFailure(call: RestCall, error: unknown): ExchangeError {
    if (error instanceof ExchangeError) return error;
    const where = `${call.method} ${call.path}`;
    if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
      return new ExchangeError(
        'EXCHANGE_TIMEOUT',
        `${where}: no complete response within ${this.options.timeoutMs} ms`,
        {
          endpoint: call.path,
        },
      );
    }
    return new ExchangeError(
      'EXCHANGE_HTTP',
      `${where}: request failed (${networkReason(error)})`,
      { endpoint: call.path },
    );
  }

  /** Binance messages are echoed into errors; make sure no secret can ride along. */
  #scrub(text: string): string {
    let out = text.replace(/signature=[0-9a-fA-F]+/g, 'signature=***');
    for (const secret of this.options.secrets)
      if (secret !== '') out = out.split(secret).join('***');
    return out.slice(0, 300);
  }

  #report(
    call: Pick<RestCall, 'method' | 'path'>,
    status: number | null,
    durationMs: number,
    error?: ErrorCode,
  ): void {
    const hook = this.options.onRequest;
    if (hook === undefined) return;
    const event: ExchangeRequestEvent = {
      endpoint: call.path,
      method: call.method,
      status,
      durationMs,
      weight: this.gate.usedWeight1m(),
    };
    if (error !== undefined) event.error = error;
    try {
      hook(event);
    } catch (hookError) {
      this.options.logger.error({ err: hookError }, 'exchange onRequest hook threw; ignored');
    }
  }
}

const PARSE_FAILED = Symbol('parse-failed');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return PARSE_FAILED;
  }
}

/** The network reason (ECONNREFUSED, ENOTFOUND…) without the URL. */
function networkReason(error: unknown): string {
  const cause =
    error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (cause !== undefined && typeof cause.code === 'string') return cause.code;
  return error instanceof Error ? error.name : 'unknown error';
}
