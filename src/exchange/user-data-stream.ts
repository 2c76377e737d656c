/**
 * The Binance USD-M user-data stream (SPEC §3, optional `P33_USER_STREAM`): a listenKey,
 * a WebSocket to `${wsUrl}/ws/<listenKey>`, a keepalive PUT every 30 min, a new
 * listenKey on `listenKeyExpired`, reconnects with backoff, and typed events.
 *
 * `connected` fires after every (re)connect: events were possibly missed while the
 * socket was down, so the consumer reseeds from REST then. Malformed messages are
 * counted and ignored; nothing here throws into the caller.
 */
import WebSocket from 'ws';
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { type AccountUpdate, type OrderUpdate, parseStreamMessage } from './user-data-schemas.js';
import { ExchangeError, type ListenKeyApi } from './types.js';

export type { AccountPosition, AccountUpdate, OrderUpdate } from './user-data-schemas.js';

/** Binance: "This listenKey does not exist." */
const LISTEN_KEY_MISSING = -1125;

export type UserDataEvent =
  AccountUpdate | OrderUpdate | { type: 'connected' } | { type: 'disconnected'; reason: string };

type Listener<T extends UserDataEvent['type']> = (
  event: Extract<UserDataEvent, { type: T }>,
) => void;

export interface UserDataStreamOptions {
  wsUrl: string;
  listenKeys: ListenKeyApi;
  logger: Logger;
  /** Keepalive PUT interval; Binance keys live 60 min. Default 30 min. */
  keepAliveMs?: number;
  /** Reconnect backoff bounds (doubling). Defaults 500 ms … 30 s. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** A ping every interval; a socket that did not answer the previous one is dropped. Default 60 s. */
  pingIntervalMs?: number;
}

export interface UserDataStreamStats {
  connected: boolean;
  connects: number;
  malformed: number;
  ignored: number;
}

export class UserDataStream {
  readonly #options: Required<UserDataStreamOptions>;
  readonly #listeners = new Map<string, Set<(event: never) => void>>();
  #socket: WebSocket | null = null;
  #timers: NodeJS.Timeout[] = [];
  #reconnectTimer: NodeJS.Timeout | null = null;
  #backoffMs: number;
  #running = false;
  #open = false;
  #outage = false;
  #stats: UserDataStreamStats = { connected: false, connects: 0, malformed: 0, ignored: 0 };

  constructor(options: UserDataStreamOptions) {
    this.#options = {
      keepAliveMs: 30 * 60_000,
      reconnectMinMs: 500,
      reconnectMaxMs: 30_000,
      pingIntervalMs: 60_000,
      ...options,
    };
    this.#backoffMs = this.#options.reconnectMinMs;
  }

  /** Subscribes; returns the unsubscribe function. */
  on<T extends UserDataEvent['type']>(type: T, listener: Listener<T>): () => void {
    const set = this.#listeners.get(type) ?? new Set();
    set.add(listener);
    this.#listeners.set(type, set);
    return () => set.delete(listener);
  }

  stats(): UserDataStreamStats {
    return { ...this.#stats, connected: this.#open };
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#connect();
  }

  /** Closes the socket and releases the listenKey (best effort). */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#clearTimers();
    const socket = this.#socket;
    this.#socket = null;
    if (socket) {
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.terminate();
      await closed;
    }
    await this.#options.listenKeys.closeListenKey().catch(() => undefined);
  }

  /** Drops the current socket; the usual reconnect path takes over. */
  reconnectNow(): void {
    this.#socket?.terminate();
  }

  async #connect(): Promise<void> {
    if (!this.#running) return;
    let listenKey: string;
    try {
      listenKey = await this.#options.listenKeys.createListenKey();
    } catch (error) {
      this.#fail(`listenKey request failed: ${errorMessage(error)}`);
      return;
    }
    if (!this.#running) return;
    const base = this.#options.wsUrl.replace(/\/+$/, '');
    const socket = new WebSocket(`${base}/ws/${encodeURIComponent(listenKey)}`);
    this.#socket = socket;
    let alive = true;
    socket.on('open', () =>
      this.#onOpen(
        socket,
        () => (alive = true),
        () => alive,
        (v) => (alive = v),
      ),
    );
    socket.on('message', (data) => {
      alive = true;
      this.#onMessage(socket, bufferText(data));
    });
    socket.on('pong', () => (alive = true));
    socket.on('error', (error) => {
      if (!this.#outage)
        this.#options.logger.warn({ err: errorMessage(error) }, 'user-data stream socket error');
    });
    socket.on('close', (code) => this.#onClose(socket, code));
  }

  #onOpen(
    socket: WebSocket,
    markAlive: () => void,
    isAlive: () => boolean,
    setAlive: (v: boolean) => void,
  ): void {
    markAlive();
    this.#open = true;
    this.#stats.connects += 1;
    this.#backoffMs = this.#options.reconnectMinMs;
    if (this.#outage || this.#stats.connects === 1) {
      this.#options.logger.info({ connects: this.#stats.connects }, 'user-data stream connected');
    }
    this.#outage = false;
    this.#timers.push(
      setInterval(() => void this.#keepAlive(socket), this.#options.keepAliveMs),
      setInterval(() => {
        if (!isAlive()) {
          socket.terminate();
          return;
        }
        setAlive(false);
        socket.ping();
      }, this.#options.pingIntervalMs),
    );
    this.#emit({ type: 'connected' });
  }

  #onMessage(socket: WebSocket, raw: string): void {
    const message = parseStreamMessage(raw);
    switch (message.type) {
      case 'account_update':
      case 'order_update':
        this.#emit(message);
        return;
      case 'listen_key_expired':
        this.#options.logger.warn(
          'user-data stream: listenKey expired, reconnecting with a new one',
        );
        socket.terminate();
        return;
      case 'ignored':
        this.#stats.ignored += 1;
        return;
      case 'malformed':
        this.#stats.malformed += 1;
        if (this.#stats.malformed === 1 || this.#stats.malformed % 1000 === 0) {
          this.#options.logger.warn(
            { why: message.why, malformed: this.#stats.malformed },
            'user-data stream: malformed message ignored',
          );
        }
    }
  }

  #onClose(socket: WebSocket, code: number): void {
    if (this.#socket === socket) this.#socket = null;
    this.#clearTimers();
    const wasOpen = this.#open;
    this.#open = false;
    if (wasOpen) this.#emit({ type: 'disconnected', reason: `socket closed (${code})` });
    this.#fail(`socket closed (${code})`);
  }

  async #keepAlive(socket: WebSocket): Promise<void> {
    try {
      await this.#options.listenKeys.keepAliveListenKey();
    } catch (error) {
      const missing =
        error instanceof ExchangeError && error.details.binanceCode === LISTEN_KEY_MISSING;
      this.#options.logger.warn(
        { err: errorMessage(error), missing },
        'user-data stream keepalive failed',
      );
      if (missing) socket.terminate();
    }
  }

  /** Schedules the next attempt with doubling backoff; logs once per outage. */
  #fail(reason: string): void {
    if (!this.#running || this.#reconnectTimer) return;
    if (!this.#outage) {
      this.#outage = true;
      this.#options.logger.warn({ reason }, 'user-data stream down; reconnecting with backoff');
    }
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#options.reconnectMaxMs);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      void this.#connect();
    }, delay);
  }

  #clearTimers(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
  }

  #emit(event: UserDataEvent): void {
    const set = this.#listeners.get(event.type);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as (e: UserDataEvent) => void)(event);
      } catch (error) {
        this.#options.logger.error(
          { err: errorMessage(error), event: event.type },
          'user-data stream listener threw; ignored',
        );
      }
    }
  }
}

function bufferText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}
