/**
 * The open pages' server-sent-event streams. Every page gets the same messages from ONE
 * desk reader and ONE events reader (never a Redis reader per tab). Messages are JSON on a
 * single `data:` line (JSON has no raw line breaks); event names are fixed strings. A page
 * that stops reading is dropped instead of buffering without bound.
 */
import type { ServerResponse } from 'node:http';

export type LiveEvent = 'hello' | 'desk' | 'events';

/** A client whose unsent output passes this is too slow to follow: it is disconnected. */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
export const KEEPALIVE_MS = 15_000;
/** How long a browser waits before reconnecting a dropped stream. */
export const RECONNECT_MS = 2000;

export class LiveHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly keepalive: NodeJS.Timeout;

  constructor(private readonly headers: Record<string, string>) {
    this.keepalive = setInterval(() => {
      for (const client of this.clients) this.write(client, ': keepalive\n\n');
    }, KEEPALIVE_MS);
    this.keepalive.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Starts the stream on `res`; `onOpen` sends what a new page needs first. */
  add(
    res: ServerResponse,
    onOpen: (send: (event: LiveEvent, data: unknown) => void) => void,
  ): void {
    res.writeHead(200, {
      ...this.headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${RECONNECT_MS}\n\n`);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    onOpen((event, data) => this.send(res, event, data));
  }

  send(res: ServerResponse, event: LiveEvent, data: unknown): void {
    this.write(res, `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  broadcast(event: LiveEvent, data: unknown): void {
    if (this.clients.size === 0) return;
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const client of this.clients) this.write(client, frame);
  }

  closeAll(): void {
    clearInterval(this.keepalive);
    for (const client of this.clients) client.end();
    this.clients.clear();
  }

  private write(res: ServerResponse, frame: string): void {
    if (res.destroyed || res.writableEnded) {
      this.clients.delete(res);
      return;
    }
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      this.clients.delete(res);
      res.destroy();
      return;
    }
    res.write(frame);
  }
}
