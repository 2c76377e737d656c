/**
 * The venue's user-data stream: one listenKey per account (POST returns the active one
 * and extends it, as Binance does), WebSocket upgrades, and the push of ACCOUNT_UPDATE /
 * ORDER_TRADE_UPDATE / listenKeyExpired.
 *
 * Paths, as Binance serves USD-M user data since the 2026-04-23 host split:
 * - `/private/ws/<listenKey>` and `/private/ws?listenKey=<key>[&events=A/B]` — the private
 *   base: events are pushed (only the listed ones when `events` is given);
 * - `/ws/<listenKey>` — the retired path: the handshake completes and then nothing is ever
 *   sent (pings are still answered), which is what real clients met after the retirement.
 * Anything else, or a key that is not the active one, gets HTTP 400 and no socket.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';

const LISTEN_KEY_TTL_MS = 60 * 60_000;

/** What a socket receives: every event, a listed subset, or nothing (retired path). */
type Subscription = { kind: 'all' } | { kind: 'events'; events: Set<string> } | { kind: 'silent' };

export class VenueUserStream {
  readonly #wss = new WebSocketServer({ noServer: true });
  readonly #subscriptions = new WeakMap<WebSocket, Subscription>();
  #listenKey: string | null = null;
  #expiresAtMs = 0;
  #muted = false;

  /** POST /fapi/v1/listenKey. */
  createOrExtend(nowMs: number): string {
    if (this.#listenKey === null || nowMs >= this.#expiresAtMs) {
      this.#listenKey = randomBytes(32).toString('hex');
    }
    this.#expiresAtMs = nowMs + LISTEN_KEY_TTL_MS;
    return this.#listenKey;
  }

  /** PUT /fapi/v1/listenKey; false when no key is active (-1125). */
  keepAlive(nowMs: number): boolean {
    if (this.#listenKey === null || nowMs >= this.#expiresAtMs) return false;
    this.#expiresAtMs = nowMs + LISTEN_KEY_TTL_MS;
    return true;
  }

  /** DELETE /fapi/v1/listenKey: the key dies and its sockets close. */
  closeKey(): void {
    this.#listenKey = null;
    this.dropAll();
  }

  /** Expires the key now: sends `listenKeyExpired`, then closes the sockets. */
  expire(nowMs: number): void {
    this.broadcast({ e: 'listenKeyExpired', E: nowMs, listenKey: this.#listenKey ?? '' });
    this.#listenKey = null;
    for (const client of this.#wss.clients) client.close(1000, 'listenKey expired');
  }

  /** Muted: every socket stays open and hears nothing (a connected-but-silent stream). */
  setMuted(muted: boolean): void {
    this.#muted = muted;
  }

  connectionCount(): number {
    return this.#wss.clients.size;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, nowMs: number): void {
    const url = new URL(req.url ?? '/', 'ws://venue');
    const route = routeOf(url);
    const active = this.#listenKey !== null && nowMs < this.#expiresAtMs;
    if (route === null || !active || route.key !== this.#listenKey) {
      socket.end(
        'HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\r\n{"code":-1125,"msg":"This listenKey does not exist."}',
      );
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.#subscriptions.set(ws, route.subscription);
      this.#wss.emit('connection', ws, req);
    });
  }

  broadcast(event: Record<string, unknown>): void {
    if (this.#wss.clients.size === 0 || this.#muted) return;
    const text = JSON.stringify(event);
    const type = String(event.e);
    for (const client of this.#wss.clients) {
      if (client.readyState !== WebSocket.OPEN) continue;
      const subscription = this.#subscriptions.get(client) ?? { kind: 'silent' };
      if (subscription.kind === 'silent') continue;
      if (subscription.kind === 'events' && !subscription.events.has(type)) continue;
      client.send(text);
    }
  }

  /** Simulates a network drop: every socket is cut without a close handshake. */
  dropAll(): number {
    const count = this.#wss.clients.size;
    for (const client of this.#wss.clients) client.terminate();
    return count;
  }

  async shutdown(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}

function routeOf(url: URL): { key: string; subscription: Subscription } | null {
  const path = url.pathname;
  if (path.startsWith('/private/ws/'))
    return { key: decodeURIComponent(path.slice('/private/ws/'.length)), subscription: ALL };
  if (path === '/private/ws') {
    const key = url.searchParams.get('listenKey');
    if (key === null) return null;
    const events = url.searchParams.get('events');
    return {
      key,
      subscription: events === null ? ALL : { kind: 'events', events: new Set(events.split('/')) },
    };
  }
  if (path.startsWith('/ws/'))
    return { key: decodeURIComponent(path.slice('/ws/'.length)), subscription: SILENT };
  return null;
}

const ALL: Subscription = { kind: 'all' };
const SILENT: Subscription = { kind: 'silent' };
