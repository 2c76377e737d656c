/**
 * The configuration the services under measurement run with: the product's defaults
 * (SPEC §8) except where a scenario says otherwise, pointed at the benchmark's own Redis
 * and simulated venue, metrics on free ports.
 */
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../src/config/config.js';
import { type Venue, startVenue } from '../src/dev/venue/venue.js';
import type { VenueSymbolSpec } from '../src/dev/venue/venue.js';

export const BENCH_API_KEY = 'bench-key';
export const BENCH_API_SECRET = 'bench-secret';

export interface BenchTarget {
  redisUrl: string;
  prefix: string;
  symbols: readonly string[];
  venue?: Venue;
}

export function benchEnv(
  target: BenchTarget,
  overrides: Record<string, string> = {},
): Record<string, string> {
  const allowlist = target.symbols.join(',');
  return {
    REDIS_URL: target.redisUrl,
    KEY_PREFIX: target.prefix,
    P33_ALLOWLIST: allowlist,
    P34_ALLOWLIST: allowlist,
    BINANCE_API_KEY: BENCH_API_KEY,
    BINANCE_API_SECRET: BENCH_API_SECRET,
    BINANCE_BASE_URL: target.venue?.baseUrl ?? 'http://127.0.0.1:9',
    BINANCE_WS_URL: target.venue?.wsUrl ?? 'ws://127.0.0.1:9',
    P33_METRICS_PORT: '0',
    P34_PROMETHEUS_PORT: '0',
    P33_LOG_LEVEL: 'INFO',
    P34_LOG_LEVEL: 'INFO',
    ...overrides,
  };
}

export function benchConfig(
  target: BenchTarget,
  overrides: Record<string, string> = {},
): Readonly<Config> {
  return loadConfig(benchEnv(target, overrides));
}

export function benchVenue(symbols: ReadonlyArray<string | VenueSymbolSpec>): Promise<Venue> {
  return startVenue({ apiKey: BENCH_API_KEY, apiSecret: BENCH_API_SECRET, symbols });
}

/** A plain client for the harness itself (setup, probes, floors), separate from the services'. */
export function harnessClient(url: string, name: string): Redis {
  return new Redis(url, { connectionName: name, maxRetriesPerRequest: 1 });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `everyMs` until it returns true; throws after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(everyMs);
  }
  throw new Error(`benchmark setup: timed out after ${timeoutMs} ms waiting for ${what}`);
}
