/**
 * The page's HTTP routes: a table of GET paths, nothing else. No route writes to Redis —
 * there is no mutation endpoint, and any method other than GET/HEAD is refused with 405.
 * Every response carries the security headers; with a token set, every request (page,
 * assets, event stream, API) must present it (see access.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isSymbol } from '../domain/identifiers.js';
import { errorMessage } from '../errors.js';
import { checkAccess, tokenCookie, withoutToken } from './access.js';
import { SECURITY_HEADERS } from './http-headers.js';
import type { Asset } from './static-assets.js';

export interface RouteDeps {
  token: string | null;
  assets: ReadonlyMap<string, Asset>;
  /** The whole desk as JSON (fresh to refreshMs). */
  desk(): Promise<unknown>;
  /** Starts a server-sent-event stream on `res`. */
  stream(res: ServerResponse): void;
  /** A symbol's history, or null when the symbol is not on the page. */
  history(symbol: string): Promise<unknown>;
}

type Handler = (
  res: ServerResponse,
  match: RegExpExecArray,
  deps: RouteDeps,
  head: boolean,
) => unknown;

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  send(res, status, 'text/plain; charset=utf-8', `${text}\n`);
}

function sendAsset(res: ServerResponse, asset: Asset | undefined): void {
  if (asset === undefined) sendText(res, 404, 'not found');
  else send(res, 200, asset.type, asset.body);
}

async function json(res: ServerResponse, read: () => Promise<unknown>): Promise<void> {
  try {
    const value = await read();
    if (value === null) sendJson(res, 404, { error: 'not a symbol of this page' });
    else sendJson(res, 200, value);
  } catch (error) {
    sendJson(res, 503, { error: `Redis unreadable: ${errorMessage(error)}` });
  }
}

const ROUTES: [RegExp, Handler][] = [
  [/^\/$/, (res, _m, deps) => sendAsset(res, deps.assets.get('index.html'))],
  [
    /^\/assets\/([a-z0-9][a-z0-9.-]*)$/,
    (res, m, deps) => sendAsset(res, deps.assets.get(m[1] ?? '')),
  ],
  [/^\/favicon\.ico$/, (res) => void res.writeHead(204, { ...SECURITY_HEADERS }).end()],
  [/^\/api\/desk$/, (res, _m, deps) => json(res, () => deps.desk())],
  [
    /^\/api\/stream$/,
    (res, _m, deps, head) =>
      head ? send(res, 200, 'text/event-stream; charset=utf-8', '') : deps.stream(res),
  ],
  [
    /^\/api\/symbol\/([^/]+)$/,
    (res, m, deps) => {
      const symbol = decodeURIComponent(m[1] ?? '');
      if (!isSymbol(symbol)) return sendJson(res, 400, { error: 'expected a symbol like BTCUSDT' });
      return json(res, () => deps.history(symbol));
    },
  ],
];

export function handleRequest(req: IncomingMessage, res: ServerResponse, deps: RouteDeps): void {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://page.invalid');
  } catch {
    return sendText(res, 400, 'bad request');
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return sendText(res, 405, 'read-only: only GET and HEAD');
  }
  const access = checkAccess({ url, headers: req.headers }, deps.token);
  if (access.kind === 'deny') {
    if (access.status === 401) res.setHeader('www-authenticate', 'Bearer realm="posguard"');
    return sendText(res, access.status, access.message);
  }
  if (access.via === 'query' && deps.token !== null && url.pathname === '/') {
    // The page: trade the URL token for a cookie and drop it from the address bar and
    // history. (A script may also put ?token= on any other path; that is simply served.)
    res.writeHead(303, {
      ...SECURITY_HEADERS,
      location: withoutToken(url),
      'set-cookie': tokenCookie(deps.token),
      'cache-control': 'no-store',
    });
    return void res.end();
  }
  for (const [pattern, handler] of ROUTES) {
    const match = pattern.exec(url.pathname);
    if (match) {
      void Promise.resolve(handler(res, match, deps, req.method === 'HEAD')).catch(
        (error: unknown) => {
          if (!res.headersSent) sendText(res, 500, `internal error: ${errorMessage(error)}`);
          else res.destroy();
        },
      );
      return;
    }
  }
  sendText(res, 404, 'not found');
}
