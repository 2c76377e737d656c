/**
 * Exchange faults, table-driven, over real HTTP against the simulated venue: the brain's
 * snapshot poller with the real Binance client. For each fault:
 *
 * - while it lasts, the affected snapshot is NOT written (it ages → the rules deny/hold;
 *   never "flat"), and the exchange is called a bounded number of times per poll;
 * - once it is cleared, the next polls write fresh snapshots again (recovery time measured).
 *
 * Plus a dropped user-data WebSocket: the stream reconnects by itself.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBrainMetrics } from '../../src/brain/metrics.js';
import { SnapshotPoller } from '../../src/brain/snapshot-poller.js';
import { BinanceClient } from '../../src/exchange/binance-client.js';
import { UserDataStream } from '../../src/exchange/user-data-stream.js';
import { silentLogger } from '../../src/observability/logger.js';
import { type Venue, startVenue } from '../../src/dev/venue/venue.js';
import type { FaultSpec } from '../../src/dev/venue/faults.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { recordFigure } from '../helpers/reliability-figures.js';
import { waitFor } from '../helpers/wait.js';
import { idleTerm } from '../../src/redis/ha/sole-term.js';
import type { WriterTerm } from '../../src/redis/ha/writer-term.js';
import { testTerm } from '../helpers/terms.js';

const API_KEY = 'fault-key';
const API_SECRET = 'fault-secret';
const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];
const PATH = '/fapi/v2/positionRisk';

let venue: Venue;
let t: TestRedis;

interface Row {
  name: string;
  fault: FaultSpec;
  /** Symbols whose snapshot must NOT be written while the fault lasts (others must be). */
  blocked: string[];
  /** Polls made during the fault. */
  polls: number;
  /** Most positionRisk requests the client may send for those polls. */
  maxRequests: number;
}

const ROWS: Row[] = [
  {
    name: 'timeout (latency 1.5 s > 0.4 s client timeout)',
    fault: { kind: 'latency', ms: 1500, path: PATH },
    blocked: SYMBOLS,
    polls: 2,
    maxRequests: 2,
  },
  {
    name: 'HTTP 503',
    fault: { kind: 'http_5xx', status: 503, path: PATH },
    blocked: SYMBOLS,
    polls: 3,
    maxRequests: 3,
  },
  {
    name: 'HTTP 429 Retry-After 1',
    fault: { kind: 'http_429', retryAfterSec: 1, path: PATH },
    blocked: SYMBOLS,
    polls: 5,
    maxRequests: 1,
  },
  {
    name: 'HTTP 418 Retry-After 1',
    fault: { kind: 'http_418', retryAfterSec: 1, path: PATH },
    blocked: SYMBOLS,
    polls: 5,
    maxRequests: 1,
  },
  {
    name: 'malformed JSON',
    fault: { kind: 'malformed_json', path: PATH },
    blocked: SYMBOLS,
    polls: 3,
    maxRequests: 3,
  },
  {
    name: 'wrong types',
    fault: { kind: 'wrong_types', path: PATH },
    blocked: SYMBOLS,
    polls: 3,
    maxRequests: 3,
  },
  {
    name: '-1021 timestamp outside recvWindow',
    fault: { kind: 'timestamp_outside_recv_window', path: PATH },
    blocked: SYMBOLS,
    polls: 3,
    maxRequests: 6,
  },
  {
    name: '-2015 invalid API key',
    fault: { kind: 'invalid_api_key', path: PATH },
    blocked: SYMBOLS,
    polls: 3,
    maxRequests: 3,
  },
  {
    name: 'hedge-mode rows for BTCUSDT',
    fault: { kind: 'hedge_mode', symbols: ['BTCUSDT'], path: PATH },
    blocked: ['BTCUSDT'],
    polls: 3,
    maxRequests: 3,
  },
  {
    name: 'BTCUSDT missing from the response',
    fault: { kind: 'omit_symbols', symbols: ['BTCUSDT'], path: PATH },
    blocked: ['BTCUSDT'],
    polls: 3,
    maxRequests: 3,
  },
];

beforeAll(async () => {
  venue = await startVenue({ apiKey: API_KEY, apiSecret: API_SECRET, symbols: SYMBOLS });
  venue.control.setPosition('BTCUSDT', '0.05', '60000');
  venue.control.setPosition('ETHUSDT', '-1.5', '3000');
});

afterAll(async () => {
  await venue.close();
});

beforeEach(() => {
  venue.control.clearFaults();
  venue.control.resetRequestCounts();
  return async () => {
    await t?.close();
  };
});

/** A poller writing with `term` (default: none — for tests that only use its client). */
function poller(term: WriterTerm = idleTerm('brain-poller')): {
  poller: SnapshotPoller;
  client: BinanceClient;
} {
  const clock = { nowMs: () => Date.now() };
  const client = new BinanceClient({
    baseUrl: venue.baseUrl,
    apiKey: API_KEY,
    apiSecret: API_SECRET,
    recvWindowMs: 5000,
    timeoutMs: 400,
    positionRiskVersion: 'v2',
    clock,
    logger: silentLogger(),
  });
  const p = new SnapshotPoller({
    client,
    redis: t.redis,
    keys: t.keys,
    term,
    allowlist: SYMBOLS,
    pollSec: 60,
    snapshotTtlSec: 3600,
    clock,
    metrics: createBrainMetrics(),
    logger: silentLogger(),
  });
  return { poller: p, client };
}

async function takenMs(symbol: string): Promise<number | null> {
  const raw = await t.redis.hget(t.keys.snapshot(symbol), 'ts_ms');
  return raw === null ? null : Number(raw);
}

const recovery: number[] = [];
const observed: string[] = [];

describe('exchange faults → stale snapshots (never flat), bounded retries, recovery', () => {
  for (const row of ROWS) {
    it(
      row.name,
      async () => {
        t = openTestRedis('xf');
        const { poller: p } = poller(await testTerm(t.redis, t.keys, 'brain-poller'));
        expect(await p.pollOnce()).toBe('ok');
        const before = new Map<string, number | null>();
        for (const s of SYMBOLS) before.set(s, await takenMs(s));
        const amounts = await Promise.all(
          SYMBOLS.map((s) => t.redis.hget(t.keys.snapshot(s), 'position_amt')),
        );
        expect(amounts).toEqual(['0.05', '-1.5']);

        venue.control.resetRequestCounts();
        venue.control.addFault(row.fault);
        const outcomes: string[] = [];
        for (let i = 0; i < row.polls; i += 1) {
          await new Promise((r) => setTimeout(r, 20));
          outcomes.push(await p.pollOnce());
        }
        const requests = venue.control.requestCounts()[PATH] ?? 0;
        expect(requests).toBeLessThanOrEqual(row.maxRequests);
        for (const s of SYMBOLS) {
          const now = await takenMs(s);
          if (row.blocked.includes(s))
            expect(now, `${s} not rewritten during the fault`).toBe(before.get(s));
          else expect(now).toBeGreaterThan(before.get(s) as number);
        }
        // Never read as flat: the stored amounts are still the last good ones.
        expect(
          await Promise.all(SYMBOLS.map((s) => t.redis.hget(t.keys.snapshot(s), 'position_amt'))),
        ).toEqual(amounts);

        venue.control.clearFaults();
        const cleared = Date.now();
        for (;;) {
          const fresh = await Promise.all(
            row.blocked.map(async (s) => ((await takenMs(s)) ?? 0) > cleared - 1),
          );
          if ((await p.pollOnce()) === 'ok' && fresh.every(Boolean)) {
            const all = await Promise.all(
              row.blocked.map(async (s) => ((await takenMs(s)) ?? 0) >= cleared),
            );
            if (all.every(Boolean)) break;
          }
          if (Date.now() - cleared > 10_000)
            throw new Error(`${row.name}: no recovery within 10 s`);
          await new Promise((r) => setTimeout(r, 25));
        }
        recovery.push(Date.now() - cleared);
        observed.push(`${row.name}: ${outcomes.join('/')}, ${requests} requests`);
        await p.stop();
      },
      30_000,
    );
  }

  it('a dropped user-data WebSocket reconnects by itself', async () => {
    const { client } = poller();
    const stream = new UserDataStream({
      wsUrl: venue.wsUrl,
      listenKeys: client,
      logger: silentLogger(),
      reconnectMinMs: 100,
    });
    let connects = 0;
    stream.on('connected', () => {
      connects += 1;
    });
    stream.start();
    try {
      const wait = (n: number): Promise<boolean> =>
        waitFor(() => connects >= n, { what: `connect #${n}` });
      await wait(1);
      const drops: number[] = [];
      for (let k = 0; k < 3; k += 1) {
        const at = Date.now();
        expect(venue.control.dropWebSockets()).toBeGreaterThan(0);
        await wait(k + 2);
        drops.push(Date.now() - at);
      }
      recordFigure('exchange-faults', {
        fault: 'user-data WebSocket dropped (no close handshake)',
        test: 'test/reliability/exchange-faults.test.ts › a dropped user-data WebSocket reconnects by itself',
        iterations: drops.length,
        observed: 'reconnected with a fresh listenKey each time; REST polling continues meanwhile',
        lost: 0,
        recoveryMs: drops,
      });
    } finally {
      await stream.stop();
    }
  });

  it('records the table', () => {
    expect(recovery).toHaveLength(ROWS.length);
    recordFigure('exchange-faults', {
      fault:
        'exchange faults (timeout, 503, 429, 418, malformed JSON, wrong types, -1021, -2015, hedge rows, missing symbol)',
      test: 'test/reliability/exchange-faults.test.ts',
      iterations: ROWS.reduce((n, r) => n + r.polls, 0),
      observed: `affected snapshots never rewritten during the fault, never flat, requests bounded; ${observed.join('; ')}`,
      lost: 0,
      recoveryMs: recovery,
      extra: { perFaultRecoveryMs: Object.fromEntries(ROWS.map((r, i) => [r.name, recovery[i]])) },
    });
  });
});
