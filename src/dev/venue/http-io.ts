/**
 * Small HTTP helpers for the venue: request bodies, JSON replies, Binance error bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const MAX_BODY_BYTES = 1 << 20;

/** A reply: JSON value or pre-serialised text (positionRisk for many symbols). */
export interface Reply {
  status: number;
  body: unknown;
  /** When set, sent as is instead of JSON.stringify(body). */
  raw?: string;
  headers?: Record<string, string>;
}

export interface BinanceFailure extends Reply {
  binanceCode: number;
}

export function binanceError(
  status: number,
  code: number,
  msg: string,
  headers?: Record<string, string>,
): BinanceFailure {
  return { status, body: { code, msg }, binanceCode: code, ...(headers ? { headers } : {}) };
}

export function ok(body: unknown): Reply {
  return { status: 200, body };
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function send(
  res: ServerResponse,
  reply: Reply,
  extraHeaders: Record<string, string> = {},
): void {
  if (res.destroyed || res.headersSent) return;
  const text = reply.raw ?? JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...extraHeaders,
    ...reply.headers,
  });
  res.end(text);
}
