/**
 * A venue on a free port and a client pointed at it, both real (HTTP + WebSocket).
 */
import {
  BinanceClient,
  type BinanceClientOptions,
  type ExchangeRequestEvent,
} from '../../src/exchange/binance-client.js';
import { silentLogger } from '../../src/observability/logger.js';
import { systemClock } from '../../src/runtime/clock.js';
import { type Venue, type VenueOptions, startVenue } from '../../src/dev/venue/venue.js';

export const API_KEY = 'test-api-key-0123456789abcdef';
export const API_SECRET = 'test-api-secret-fedcba9876543210-do-not-leak';

export interface Rig {
  venue: Venue;
  client: BinanceClient;
  events: ExchangeRequestEvent[];
  clientWith(overrides: Partial<BinanceClientOptions>): BinanceClient;
}

export async function startRig(
  venueOptions: Partial<VenueOptions> = {},
  clientOptions: Partial<BinanceClientOptions> = {},
): Promise<Rig> {
  const venue = await startVenue({ apiKey: API_KEY, apiSecret: API_SECRET, ...venueOptions });
  const events: ExchangeRequestEvent[] = [];
  const clientWith = (overrides: Partial<BinanceClientOptions>): BinanceClient =>
    new BinanceClient({
      baseUrl: venue.baseUrl,
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      recvWindowMs: 5000,
      timeoutMs: 2000,
      positionRiskVersion: 'v2',
      clock: systemClock,
      logger: silentLogger(),
      onRequest: (event) => events.push(event),
      ...clientOptions,
      ...overrides,
    });
  return { venue, client: clientWith({}), events, clientWith };
}

/** Rejection of `promise`, asserting it did reject. */
export async function rejectionOf(
  promise: Promise<unknown>,
): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; details?: Record<string, unknown> };
  }
  throw new Error('expected a rejection, the call succeeded');
}

/** The shared sleep (test/helpers/wait.ts). */
export { sleep } from '../helpers/wait.js';
