/**
 * Binance request signing: HMAC-SHA256 of the query string with the API secret.
 * The signature and the secret never leave this module except inside the request URL,
 * and `redactQuery` strips that URL before anything logs it.
 */
import { createHmac } from 'node:crypto';

export type QueryParams = Record<string, string>;

export function encodeQuery(params: QueryParams): string {
  return new URLSearchParams(params).toString();
}

export function hmacSha256Hex(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/** `query&signature=<hex>`; `query` already carries `timestamp` and `recvWindow`. */
export function signQuery(query: string, secret: string): string {
  const signature = hmacSha256Hex(secret, query);
  return query === '' ? `signature=${signature}` : `${query}&signature=${signature}`;
}

/** A URL safe to log: path only, the query string (timestamp, signature) dropped. */
export function redactQuery(url: string): string {
  const at = url.indexOf('?');
  return at === -1 ? url : `${url.slice(0, at)}?<redacted>`;
}
