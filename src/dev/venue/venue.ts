/**
 * A Binance USD-M–compatible venue over real HTTP and WebSocket (node:http + ws), for
 * tests, the demo and the benchmarks. One account, one-way mode, market orders filled
 * at the mark price, HMAC-checked requests, weights, faults, and a control API.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../domain/time.js';
import { errorMessage } from '../../errors.js';
import { VenueAccount } from './account.js';
import { type VenueContext, handleBinance } from './binance-routes.js';
import { VenueControl } from './control.js';
import { handleControl } from './control-routes.js';
import { FaultRegistry } from './faults.js';
import { readBody, send } from './http-io.js';
import { OrderDesk } from './order-desk.js';
import { DEFAULT_SYMBOLS, type VenueSymbolSpec, resolveSymbol } from './symbols.js';
import { VenueUserStream } from './user-stream.js';
import { WeightMeter } from './weights.js';
import { systemClock } from '../../runtime/clock.js';

export { VenueControl } from './control.js';
export type { FaultKind, FaultSpec, ActiveFault } from './faults.js';
export type { OrderLogEntry } from './order-desk.js';
export type { PositionView } from './account.js';
export type { VenueRequest } from './binance-routes.js';
export { type VenueSymbolSpec, syntheticSymbols } from './symbols.js';

export interface VenueOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  apiKey: string;
  apiSecret: string;
  /** Default BTCUSDT, ETHUSDT. */
  symbols?: ReadonlyArray<string | VenueSymbolSpec>;
  clock?: Clock;
  /** Answer 429 once a minute's weight passes this (Binance: 2400). Default: not enforced. */
  weightLimit1m?: number | null;
}

export interface Venue {
  baseUrl: string;
  /** The private base for user data (`…/private`; the client appends `/ws/<listenKey>`). */
  wsUrl: string;
  /** The pre-2026-04-23 base: its `/ws/<listenKey>` completes the handshake, then is silent. */
  retiredWsUrl: string;
  port: number;
  control: VenueControl;
  close(): Promise<void>;
}

export async function startVenue(options: VenueOptions): Promise<Venue> {
  const baseClock = options.clock ?? systemClock;
  const skew = { skewMs: 0 };
  const sleepers = new Set<() => void>();
  const account = new VenueAccount();
  for (const symbol of options.symbols ?? DEFAULT_SYMBOLS)
    account.upsertSymbol(resolveSymbol(symbol));
  const stream = new VenueUserStream();
  const ctx: VenueContext = {
    account,
    stream,
    desk: new OrderDesk(account, stream),
    faults: new FaultRegistry(),
    weights: new WeightMeter(),
    apiKey: options.apiKey,
    apiSecret: options.apiSecret,
    weightLimit1m: options.weightLimit1m ?? null,
    requestCounts: new Map(),
    requestLog: [],
    nowMs: () => baseClock.nowMs() + skew.skewMs,
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          sleepers.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        sleepers.add(done);
      }),
  };
  const control = new VenueControl(ctx, skew);
  const server = createServer((req, res) => void serve(ctx, control, req, res));
  server.on('upgrade', (req, socket, head) => stream.handleUpgrade(req, socket, head, ctx.nowMs()));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    baseUrl: `http://${host}:${address.port}`,
    wsUrl: `ws://${host}:${address.port}/private`,
    retiredWsUrl: `ws://${host}:${address.port}`,
    port: address.port,
    control,
    close: async () => {
      for (const wake of [...sleepers]) wake();
      await stream.shutdown();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function serve(
  ctx: VenueContext,
  control: VenueControl,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://venue');
    const rawBody = await readBody(req);
    if (url.pathname.startsWith('/_control/')) {
      send(res, handleControl(control, req.method ?? 'GET', url, rawBody));
      return;
    }
    await handleBinance(ctx, req, res, url, rawBody);
  } catch (error) {
    send(res, { status: 500, body: { code: -1000, msg: `venue error: ${errorMessage(error)}` } });
  }
}
