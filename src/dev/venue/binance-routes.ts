/**
 * The Binance USD-M REST surface of the venue: routing, injected faults, weight
 * accounting, authentication, then the endpoint itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VenueAccount } from './account.js';
import { type Security, authenticate } from './auth.js';
import type { FaultRegistry } from './faults.js';
import { type Reply, binanceError, ok, send } from './http-io.js';
import type { OrderDesk } from './order-desk.js';
import { exchangeInfoSymbol } from './symbols.js';
import type { VenueUserStream } from './user-stream.js';
import { type WeightMeter, weightOf } from './weights.js';

export interface VenueContext {
  account: VenueAccount;
  desk: OrderDesk;
  stream: VenueUserStream;
  faults: FaultRegistry;
  weights: WeightMeter;
  apiKey: string;
  apiSecret: string;
  weightLimit1m: number | null;
  requestCounts: Map<string, number>;
  /** The last REQUEST_LOG_SIZE Binance requests, oldest first. */
  requestLog: VenueRequest[];
  /** The venue's clock, skew included. */
  nowMs(): number;
  /** A delay that ends early when the venue closes. */
  sleep(ms: number): Promise<void>;
}

/** One Binance request as the venue saw it (the control API's request log). */
export interface VenueRequest {
  method: string;
  path: string;
  /** The `symbol` parameter, when the request had one. */
  symbol: string | null;
  status: number;
  atMs: number;
}

export const REQUEST_LOG_SIZE = 1000;

interface Request {
  method: string;
  path: string;
  params: URLSearchParams;
}

type Handler = (ctx: VenueContext, request: Request) => Reply;

interface Route {
  security: Security;
  methods: Partial<Record<string, Handler>>;
}

/** Every symbol in one answer, or with `symbol=` that symbol only (-1121 when unknown). */
const positionRisk =
  (version: 'v2' | 'v3'): Handler =>
  (ctx, r) => {
    const symbol = r.params.get('symbol');
    if (symbol === null)
      return { status: 200, body: null, raw: ctx.account.positionRiskBody(version) };
    const raw = ctx.account.positionRiskBodyFor(version, symbol);
    return raw === null
      ? binanceError(400, -1121, 'Invalid symbol.')
      : { status: 200, body: null, raw };
  };

const ROUTES: Record<string, Route> = {
  '/fapi/v1/ping': { security: 'none', methods: { GET: () => ok({}) } },
  '/fapi/v1/time': { security: 'none', methods: { GET: (ctx) => ok({ serverTime: ctx.nowMs() }) } },
  '/fapi/v1/exchangeInfo': { security: 'none', methods: { GET: exchangeInfo } },
  '/fapi/v2/positionRisk': { security: 'signed', methods: { GET: positionRisk('v2') } },
  '/fapi/v3/positionRisk': { security: 'signed', methods: { GET: positionRisk('v3') } },
  '/fapi/v1/order': {
    security: 'signed',
    methods: { POST: (ctx, r) => ctx.desk.place(r.params, ctx.nowMs()) },
  },
  '/fapi/v1/listenKey': {
    security: 'apiKey',
    methods: {
      POST: (ctx) => ok({ listenKey: ctx.stream.createOrExtend(ctx.nowMs()) }),
      PUT: (ctx) =>
        ctx.stream.keepAlive(ctx.nowMs())
          ? ok({})
          : binanceError(400, -1125, 'This listenKey does not exist.'),
      DELETE: (ctx) => {
        ctx.stream.closeKey();
        return ok({});
      },
    },
  },
};

function exchangeInfo(ctx: VenueContext): Reply {
  const symbols = [];
  for (const state of ctx.account.symbols()) symbols.push(exchangeInfoSymbol(state.spec));
  return ok({
    timezone: 'UTC',
    serverTime: ctx.nowMs(),
    rateLimits: [
      {
        rateLimitType: 'REQUEST_WEIGHT',
        interval: 'MINUTE',
        intervalNum: 1,
        limit: ctx.weightLimit1m ?? 2400,
      },
    ],
    exchangeFilters: [],
    assets: [{ asset: 'USDT', marginAvailable: true }],
    symbols,
  });
}

export async function handleBinance(
  ctx: VenueContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  rawBody: string,
): Promise<void> {
  const path = url.pathname;
  ctx.requestCounts.set(path, (ctx.requestCounts.get(path) ?? 0) + 1);
  const latency = ctx.faults.latencyMs(path, ctx.nowMs());
  if (latency > 0) await ctx.sleep(latency);
  const used = ctx.weights.add(ctx.nowMs(), weightOf(path));
  const headers = { 'x-mbx-used-weight-1m': String(used), 'x-mbx-used-weight': String(used) };
  const reply = route(ctx, req, url, rawBody, used);
  logRequest(ctx, req.method ?? 'GET', url, rawBody, reply.status);
  // An answer computed now and delivered late: what a slow network or a paused reader sees.
  const hold = ctx.faults.take('hold_reply', path, ctx.nowMs());
  if (hold) await ctx.sleep(hold.ms ?? 0);
  send(res, reply, headers);
}

function logRequest(
  ctx: VenueContext,
  method: string,
  url: URL,
  rawBody: string,
  status: number,
): void {
  const symbol = url.searchParams.get('symbol') ?? new URLSearchParams(rawBody).get('symbol');
  ctx.requestLog.push({ method, path: url.pathname, symbol, status, atMs: ctx.nowMs() });
  if (ctx.requestLog.length > REQUEST_LOG_SIZE)
    ctx.requestLog.splice(0, ctx.requestLog.length - REQUEST_LOG_SIZE);
}

function route(
  ctx: VenueContext,
  req: IncomingMessage,
  url: URL,
  rawBody: string,
  usedWeight: number,
): Reply {
  const path = url.pathname;
  const now = ctx.nowMs();
  if (ctx.weightLimit1m !== null && usedWeight > ctx.weightLimit1m) {
    const retry = String(ctx.weights.secondsToNextWindow(now));
    return binanceError(
      429,
      -1003,
      `Too many requests; current limit of IP is ${ctx.weightLimit1m} requests per minute.`,
      { 'retry-after': retry },
    );
  }
  const fault = ctx.faults.takeReplacing(path, now);
  if (fault) return faultReply(fault.kind, fault.retryAfterSec, fault.status, now);
  const target = ROUTES[path];
  if (!target) return binanceError(404, -1000, `Unknown endpoint ${path}.`);
  const handler = target.methods[req.method ?? 'GET'];
  if (!handler)
    return binanceError(405, -1000, `Method ${req.method ?? ''} not allowed on ${path}.`);
  const rawQuery = url.search.startsWith('?') ? url.search.slice(1) : '';
  const params = new URLSearchParams(rawQuery);
  for (const [key, value] of new URLSearchParams(rawBody)) params.append(key, value);
  const header = req.headers['x-mbx-apikey'];
  const denied = authenticate(
    target.security,
    {
      apiKeyHeader: Array.isArray(header) ? header[0] : header,
      rawQuery,
      rawBody,
      params,
      serverTimeMs: now,
    },
    ctx.apiKey,
    ctx.apiSecret,
  );
  if (denied) return denied;
  return shape(ctx, path, handler(ctx, { method: req.method ?? 'GET', path, params }));
}

function faultReply(
  kind: string,
  retryAfterSec: number | undefined,
  status: number | undefined,
  now: number,
): Reply {
  const retry = { 'retry-after': String(retryAfterSec ?? 60) };
  switch (kind) {
    case 'http_429':
      return binanceError(
        429,
        -1003,
        'Too many requests; current limit of IP is 2400 requests per minute. Please use the websocket for live updates to avoid polling the API.',
        retry,
      );
    case 'http_418':
      return binanceError(
        418,
        -1003,
        `Way too many requests; IP banned until ${now + (retryAfterSec ?? 60) * 1000}. Please use the websocket for live updates to avoid bans.`,
        retry,
      );
    case 'http_5xx':
      return binanceError(
        status ?? 503,
        -1001,
        'Internal error; unable to process your request. Please try again.',
      );
    case 'timestamp_outside_recv_window':
      return binanceError(400, -1021, 'Timestamp for this request is outside of the recvWindow.');
    default:
      return binanceError(401, -2015, 'Invalid API-key, IP, or permissions for action.');
  }
}

/** Body-shaping faults, applied to successful replies only. */
function shape(ctx: VenueContext, path: string, reply: Reply): Reply {
  if (reply.status !== 200) return reply;
  const now = ctx.nowMs();
  let current = reply;
  if (path.endsWith('/positionRisk')) {
    const hedge = ctx.faults.take('hedge_mode', path, now);
    const omit = ctx.faults.take('omit_symbols', path, now);
    if (hedge || omit)
      current = reshapeRows(current, new Set(hedge?.symbols ?? []), new Set(omit?.symbols ?? []));
  }
  if (ctx.faults.take('wrong_types', path, now))
    current = { status: 200, body: wrongTypes(bodyOf(current)) };
  if (ctx.faults.take('malformed_json', path, now)) {
    const text = current.raw ?? JSON.stringify(current.body);
    current = {
      status: 200,
      body: null,
      raw: text.slice(0, Math.max(1, Math.floor(text.length / 2))),
    };
  }
  return current;
}

function bodyOf(reply: Reply): unknown {
  return reply.raw === undefined ? reply.body : (JSON.parse(reply.raw) as unknown);
}

/** Hedge mode: a symbol's one-way row becomes a LONG and a SHORT row. */
function reshapeRows(reply: Reply, hedge: Set<string>, omit: Set<string>): Reply {
  const rows = bodyOf(reply) as Record<string, unknown>[];
  const out: Record<string, unknown>[] = [];
  for (const row of rows) {
    const symbol = String(row.symbol);
    if (omit.has(symbol)) continue;
    if (!hedge.has(symbol)) {
      out.push(row);
      continue;
    }
    const amount = String(row.positionAmt);
    const isShort = amount.startsWith('-');
    out.push({ ...row, positionSide: 'LONG', positionAmt: isShort ? '0' : amount });
    out.push({ ...row, positionSide: 'SHORT', positionAmt: isShort ? amount : '0' });
  }
  return { status: 200, body: out };
}

function wrongTypes(body: unknown): unknown {
  if (Array.isArray(body))
    return body.map((row: Record<string, unknown>) => ({
      ...row,
      positionAmt: { value: row.positionAmt },
    }));
  if (typeof body !== 'object' || body === null) return { value: body };
  const record = body as Record<string, unknown>;
  if ('executedQty' in record) return { ...record, executedQty: Number(record.executedQty) };
  if ('serverTime' in record) return { ...record, serverTime: String(record.serverTime) };
  if ('symbols' in record)
    return { ...record, symbols: { count: (record.symbols as unknown[]).length } };
  if ('listenKey' in record) return { ...record, listenKey: 12345 };
  return { ...record, unexpected: [] };
}
