/**
 * The venue's user-data stream: one listenKey per account (POST returns the active one
 * and extends it, as Binance does), a WebSocket server at `/ws/<listenKey>`, and the
 * push of ACCOUNT_UPDATE / ORDER_TRADE_UPDATE / listenKeyExpired.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';

const LISTEN_KEY_TTL_MS = 60 * 60_000;

export class VenueUserStream {
  readonly #wss = new WebSocketServer({ noServer: true });
  #listenKey: string | null = null;
  #expiresAtMs = 0;

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

  connectionCount(): number {
    return this.#wss.clients.size;
  }

  /** Accepts `/ws/<active listenKey>`; anything else gets HTTP 400 and no socket. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, nowMs: number): void {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const key = path.startsWith('/ws/') ? decodeURIComponent(path.slice(4)) : '';
    if (this.#listenKey === null || key !== this.#listenKey || nowMs >= this.#expiresAtMs) {
      socket.end(
        'HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\r\n{"code":-1125,"msg":"This listenKey does not exist."}',
      );
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#wss.emit('connection', ws, req));
  }

  broadcast(event: Record<string, unknown>): void {
    if (this.#wss.clients.size === 0) return;
    const text = JSON.stringify(event);
    for (const client of this.#wss.clients)
      if (client.readyState === WebSocket.OPEN) client.send(text);
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
