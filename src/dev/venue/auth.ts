/**
 * Request authentication as Binance does it: API key header, HMAC-SHA256 signature over
 * `totalParams` (query string followed by body, without the signature), and the
 * timestamp checked against recvWindow on the venue's (possibly skewed) clock.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type BinanceFailure, binanceError } from './http-io.js';

export type Security = 'none' | 'apiKey' | 'signed';

/** Binance default and maximum recvWindow. */
const DEFAULT_RECV_WINDOW_MS = 5000;
const MAX_RECV_WINDOW_MS = 60_000;

export interface AuthInput {
  apiKeyHeader: string | undefined;
  rawQuery: string;
  rawBody: string;
  params: URLSearchParams;
  serverTimeMs: number;
}

export function authenticate(
  security: Security,
  input: AuthInput,
  apiKey: string,
  apiSecret: string,
): BinanceFailure | null {
  if (security === 'none') return null;
  if (input.apiKeyHeader === undefined || input.apiKeyHeader === '') {
    return binanceError(401, -2014, 'API-key format invalid.');
  }
  if (!equalText(input.apiKeyHeader, apiKey)) {
    return binanceError(401, -2015, 'Invalid API-key, IP, or permissions for action.');
  }
  if (security === 'apiKey') return null;
  const signature = input.params.get('signature');
  if (signature === null || signature === '') {
    return binanceError(
      400,
      -1102,
      "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
    );
  }
  const totalParams = withoutSignature(input.rawQuery) + withoutSignature(input.rawBody);
  const expected = createHmac('sha256', apiSecret).update(totalParams).digest('hex');
  if (!equalText(signature.toLowerCase(), expected)) {
    return binanceError(400, -1022, 'Signature for this request is not valid.');
  }
  return checkTimestamp(input.params, input.serverTimeMs);
}

function checkTimestamp(params: URLSearchParams, serverTimeMs: number): BinanceFailure | null {
  const timestamp = Number(params.get('timestamp'));
  if (!Number.isInteger(timestamp) || timestamp <= 0) {
    return binanceError(
      400,
      -1102,
      "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
    );
  }
  const rawWindow = params.get('recvWindow');
  const recvWindow = rawWindow === null ? DEFAULT_RECV_WINDOW_MS : Number(rawWindow);
  if (!Number.isInteger(recvWindow) || recvWindow <= 0 || recvWindow > MAX_RECV_WINDOW_MS) {
    return binanceError(400, -1131, 'recvWindow must be less than 60000');
  }
  if (timestamp < serverTimeMs + 1000 && serverTimeMs - timestamp <= recvWindow) return null;
  return binanceError(400, -1021, 'Timestamp for this request is outside of the recvWindow.');
}

function withoutSignature(raw: string): string {
  if (raw === '') return '';
  return raw
    .split('&')
    .filter((part) => !part.startsWith('signature='))
    .join('&');
}

function equalText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
