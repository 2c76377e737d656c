/**
 * `posguard web` (SPEC §12): the read-only status page. node:http and a route table (no
 * server framework: six GET routes and a server-sent-event stream need nothing more — see
 * docs/web.md). Two Redis connections for any number of pages: one for the desk reads and
 * one for the blocking read of the events stream.
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { RedisConfig } from '../config/config.js';
import type { Clock } from '../domain/time.js';
import type { Logger } from '../observability/logger.js';
import { createRedis, waitForReady } from '../redis/connection.js';
import type { Keys } from '../redis/keys.js';
import { DeskFeed } from './desk-feed.js';
import { EventTail } from './event-tail.js';
import { SECURITY_HEADERS } from './http-headers.js';
import { LiveHub } from './live-hub.js';
import { handleRequest } from './routes.js';
import { type WebSettings, pageUrl } from './settings.js';
import { type Asset, loadAssets } from './static-assets.js';
import { readSymbolHistory } from './symbol-history.js';
import { systemClock } from '../runtime/clock.js';

export interface WebServerOptions {
  settings: WebSettings;
  redis: RedisConfig;
  keys: Keys;
  /** The symbols of the page (the allowlists), in display order. */
  symbols: readonly string[];
  logger: Logger;
  clock?: Clock;
  /** `POSGUARD_LEASE_MS`: the instances section shows each lease's age with it. */
  leaseMs?: number;
  /** When the port is taken, listen on any free port instead of failing (the demo). */
  anyPortIfTaken?: boolean;
}

export interface WebServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const READY_WAIT_MS = 2000;

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

async function listenWithFallback(server: Server, options: WebServerOptions): Promise<void> {
  const { port, host } = options.settings;
  try {
    await listen(server, port, host);
  } catch (error) {
    const taken = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
    if (!taken || options.anyPortIfTaken !== true) throw error;
    await listen(server, 0, host);
  }
}

function connection(options: WebServerOptions, name: string): Redis {
  const redis = createRedis(options.redis, { name });
  // Reported through the desk's Redis status and the events reader; never an unhandled error.
  redis.on('error', () => undefined);
  return redis;
}

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const { settings, keys, symbols, logger } = options;
  const clock = options.clock ?? systemClock;
  const assets: ReadonlyMap<string, Asset> = loadAssets();
  const reader = connection(options, 'posguard-web');
  const tailConnection = connection(options, 'posguard-web-events');
  const hub = new LiveHub({ ...SECURITY_HEADERS });
  const feed = new DeskFeed({
    redis: reader,
    keys,
    symbols,
    refreshMs: settings.refreshMs,
    leaseMs: options.leaseMs ?? null,
    clock,
    logger,
    hub,
  });
  const tail = new EventTail({
    redis: tailConnection,
    stream: keys.reconcileEventsStream,
    logger,
    onEvents: (records) => hub.broadcast('events', records),
  });
  const allowed = new Set(symbols);
  const hello = {
    prefix: keys.prefix,
    symbols: symbols.length,
    refresh_ms: settings.refreshMs,
  };
  const server = createServer((req, res) =>
    handleRequest(req, res, {
      token: settings.token,
      assets,
      desk: async () => {
        await feed.ensureFresh();
        return feed.message(true);
      },
      stream: (res) =>
        hub.add(res, (send) => {
          send('hello', hello);
          send('desk', feed.message(true));
          send('events', tail.recent());
          void feed.ensureFresh();
        }),
      history: (symbol) =>
        allowed.has(symbol) ? readSymbolHistory(reader, keys, symbol) : Promise.resolve(null),
    }),
  );
  server.keepAliveTimeout = 5000;
  // A page opened right after start should not flash "Redis down" while the connection is
  // made; a Redis that is really down is reported by the page and retried.
  await Promise.all(
    [reader, tailConnection].map((c) => waitForReady(c, READY_WAIT_MS).catch(() => undefined)),
  );
  try {
    await listenWithFallback(server, options);
  } catch (error) {
    reader.disconnect();
    tailConnection.disconnect();
    hub.closeAll();
    throw error;
  }
  feed.start();
  tail.start();
  const port = (server.address() as AddressInfo).port;
  const url = pageUrl(settings.host, port);
  logger.info({ url, symbols: symbols.length, token: settings.token !== null }, 'web: listening');
  return {
    url,
    port,
    close: async () => {
      hub.closeAll();
      await feed.stop();
      await tail.stop();
      reader.disconnect();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
