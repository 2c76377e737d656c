/**
 * The web page's own settings (SPEC §12): where it listens, the access token, how often it
 * reads the desk. Validated once, every problem named at once. Loopback by default; any
 * other address refuses to start without `POSGUARD_WEB_TOKEN` (fail closed: positions are
 * not for the whole network to read).
 */
import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';

export const DEFAULT_WEB_HOST = '127.0.0.1';
export const DEFAULT_WEB_PORT = 8047;
export const DEFAULT_REFRESH_MS = 1000;
export const MIN_TOKEN_LENGTH = 16;

export interface WebSettings {
  host: string;
  port: number;
  /** Required on every request when set; mandatory off loopback. */
  token: string | null;
  /** How often the desk (every symbol's state, heartbeats) is read while a page is open. */
  refreshMs: number;
}

export interface WebSettingsInput {
  host?: string | undefined;
  port?: number | undefined;
  refreshMs?: number | undefined;
  /** The merged environment (process env over --env-file). */
  env: Record<string, string | undefined>;
}

/** 127.0.0.0/8, ::1 (and its IPv4-mapped form) and `localhost` only. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./.test(bare);
  return false;
}

export function webSettings(input: WebSettingsInput): WebSettings {
  const problems: string[] = [];
  const host = (input.host ?? DEFAULT_WEB_HOST).trim();
  if (host === '' || (isIP(host.replace(/^\[(.*)\]$/, '$1')) === 0 && host !== 'localhost')) {
    problems.push(
      `--host ${JSON.stringify(host)}: expected an IP address (127.0.0.1, ::1, 0.0.0.0) or localhost`,
    );
  }
  const port = input.port ?? DEFAULT_WEB_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    problems.push(`--port ${port}: expected an integer between 0 and 65535`);
  }
  const refreshMs = input.refreshMs ?? DEFAULT_REFRESH_MS;
  if (!Number.isInteger(refreshMs) || refreshMs < 100 || refreshMs > 60_000) {
    problems.push(`--refresh-ms ${refreshMs}: expected an integer between 100 and 60000`);
  }
  const raw = input.env.POSGUARD_WEB_TOKEN?.trim() ?? '';
  const token = raw === '' ? null : raw;
  if (token !== null && token.length < MIN_TOKEN_LENGTH) {
    problems.push(
      `POSGUARD_WEB_TOKEN is ${token.length} characters: use at least ${MIN_TOKEN_LENGTH} random ones (e.g. openssl rand -hex 16)`,
    );
  }
  if (token !== null && !/^[\x21-\x7e]+$/.test(token)) {
    problems.push(
      'POSGUARD_WEB_TOKEN: use printable ASCII without spaces (e.g. openssl rand -hex 16)',
    );
  }
  if (problems.length === 0 && token === null && !isLoopbackHost(host)) {
    problems.push(
      `--host ${host} is not a loopback address: set POSGUARD_WEB_TOKEN (e.g. openssl rand -hex 16) so every request must carry it, or keep the default 127.0.0.1 and reach the page through an SSH tunnel`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ host, port, token, refreshMs });
}

/** The URL to print: loopback hosts as given, IPv6 in brackets. */
export function pageUrl(host: string, port: number): string {
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host;
  const bracketed = isIP(shown) === 6 ? `[${shown}]` : shown;
  return `http://${bracketed}:${port}/`;
}
