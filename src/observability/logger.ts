/**
 * Structured JSON logs (pino); human-readable when stdout is a terminal.
 * Secrets are redacted by the logger itself, not at each call site.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT_PATHS = [
  'apiSecret',
  'apiKey',
  'secret',
  'password',
  'signature',
  '*.apiSecret',
  '*.apiKey',
  '*.secret',
  '*.password',
  '*.signature',
  'config.binance.apiSecret',
  'config.binance.apiKey',
  'config.redis.url',
  'redisUrl',
  '*.redisUrl',
];

/** Replaces the password (and user) of a redis:// or rediss:// URL. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}

export interface LoggerOptions {
  level?: string;
  name: string;
  /** Force pretty output (defaults to stdout being a TTY). */
  pretty?: boolean;
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.pretty ?? (process.stdout.isTTY === true && !options.destination);
  const base = {
    name: options.name,
    level: options.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '***' },
  };
  if (pretty) {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' },
      },
    });
  }
  return options.destination
    ? pino(base, options.destination as pino.DestinationStream)
    : pino(base);
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
