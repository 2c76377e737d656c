/**
 * Who may read the page (SPEC §12). Pure: a request's URL and headers in, a verdict out.
 *
 * With `POSGUARD_WEB_TOKEN` set, every request (page, assets, event stream, API) carries it,
 * in one of three ways:
 * - `Authorization: Bearer TOKEN` — scripts and curl;
 * - `?token=TOKEN` on the page URL, once: the server answers with an HttpOnly, SameSite=Strict
 *   cookie and a redirect to the same URL without the token, so the token leaves the address
 *   bar and the history at once, and the page's own requests (module imports, fetch,
 *   EventSource — which cannot send headers) carry the cookie without any script seeing it;
 * - that cookie.
 * Tokens are compared in constant time.
 *
 * Without a token the server listens on loopback only, and answers only requests whose Host
 * names a loopback address: a web page elsewhere cannot use DNS rebinding to make the
 * browser of someone with a tunnel open read the desk.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { isLoopbackHost } from './settings.js';

export const TOKEN_COOKIE = 'posguard_web_token';

export type AccessVerdict =
  | { kind: 'allow'; via: 'open' | 'header' | 'cookie' | 'query' }
  | { kind: 'deny'; status: 401 | 403; message: string };

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export function tokensEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

export function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at !== -1 && part.slice(0, at).trim() === name) {
      try {
        return decodeURIComponent(part.slice(at + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

function bearer(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1] ?? null;
}

/** The host name of a Host header (`[::1]:8047` → `[::1]`, `localhost:9000` → `localhost`). */
export function hostName(hostHeader: string | undefined): string {
  const host = (hostHeader ?? '').trim();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

export function checkAccess(
  request: { url: URL; headers: IncomingHttpHeaders },
  token: string | null,
): AccessVerdict {
  if (token === null) {
    if (isLoopbackHost(hostName(request.headers.host))) return { kind: 'allow', via: 'open' };
    return {
      kind: 'deny',
      status: 403,
      message:
        'this page answers only to a loopback Host (localhost, 127.0.0.1, [::1]); open it through an SSH tunnel, or set POSGUARD_WEB_TOKEN',
    };
  }
  const presented: [AccessVerdict & { kind: 'allow' }, string | null][] = [
    [{ kind: 'allow', via: 'header' }, bearer(request.headers.authorization)],
    [{ kind: 'allow', via: 'cookie' }, cookieValue(request.headers.cookie, TOKEN_COOKIE)],
    [{ kind: 'allow', via: 'query' }, request.url.searchParams.get('token')],
  ];
  for (const [verdict, value] of presented) {
    if (value !== null && tokensEqual(value, token)) return verdict;
  }
  return {
    kind: 'deny',
    status: 401,
    message:
      'a token is required: open the page as /?token=… once, or send Authorization: Bearer …',
  };
}

/** The cookie set after a valid `?token=`: HttpOnly, SameSite=Strict, the whole site. */
export function tokenCookie(token: string): string {
  return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`;
}

/** The same URL without its `token` parameter (where a `?token=` page request redirects). */
export function withoutToken(url: URL): string {
  const params = new URLSearchParams(url.searchParams);
  params.delete('token');
  const query = params.toString();
  return `${url.pathname}${query === '' ? '' : `?${query}`}`;
}
