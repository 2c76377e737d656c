/**
 * Redis outage: the built `posguard brain` and `posguard reconcile` run as child processes
 * against a private redis-server and the simulated venue while plans flow. The server is
 * SIGKILLed and restarted EMPTY on the same port, several times. The services must:
 *
 * - never exit; log each failing component once per outage (not per tick);
 * - answer 503 on /readyz during the outage and count the failures in /metrics;
 * - resume after Redis returns (plans written right after the restart get their permit);
 * - never ALLOW from data read before the outage: every ALLOW written after a restart rests
 *   on a snapshot taken after the kill (the restarted Redis holds no snapshot at all).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { decodePermit } from '../../src/domain/permit.js';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/dev/redis-server.js';
import { buildKeys } from '../../src/redis/keys.js';
import { type Venue, startVenue } from '../../src/dev/venue/venue.js';
import { recordFigure } from '../helpers/reliability-figures.js';
import { sleep, waitFor } from '../helpers/wait.js';
import {
  type ServiceProcess,
  assertCliBuilt,
  httpGet,
  spawnService,
} from '../helpers/reliability-process.js';

const API_KEY = 'outage-key';
const API_SECRET = 'outage-secret';
const PREFIX = 'outage';
const keys = buildKeys(PREFIX);
const OUTAGES = 3;
const OUTAGE_MS = 1500;

let server: EmbeddedRedis;
let venue: Venue;
let direct: Redis;
let brain: ServiceProcess;
let engine: ServiceProcess;

function env(): Record<string, string> {
  return {
    REDIS_URL: server.url,
    KEY_PREFIX: PREFIX,
    P33_ALLOWLIST: 'BTCUSDT',
    P34_ALLOWLIST: 'BTCUSDT',
    P33_POLL_SEC: '0.2',
    P33_STALE_THRESHOLD_SEC: '3',
    P33_COOLDOWN_SEC: '0',
    P33_METRICS_PORT: '0',
    P34_PROMETHEUS_PORT: '0',
    P34_LOOP_CADENCE_SEC: '0.2',
    P34_EXCHANGE_FRESHNESS_SEC: '3',
    P33_LOG_LEVEL: 'info',
    P34_LOG_LEVEL: 'info',
    BINANCE_BASE_URL: venue.baseUrl,
    BINANCE_API_KEY: API_KEY,
    BINANCE_API_SECRET: API_SECRET,
    BINANCE_TIMEOUT_SEC: '2',
  };
}

async function addPlan(planId: string): Promise<void> {
  await direct.xadd(
    keys.applyPlanStream,
    '*',
    'plan_id',
    planId,
    'symbol',
    'BTCUSDT',
    'decision',
    'EXECUTE',
    'action',
    'CLOSE_PARTIAL_25',
    'reduceOnly',
    'true',
  );
}

async function permitOf(planId: string): Promise<ReturnType<typeof decodePermit>> {
  return decodePermit(await direct.get(keys.permitP33(planId)).catch(() => null));
}

/** How long it took until `probe` held (a measured figure, never asserted against a time). */
async function waitUntil(probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<number> {
  const start = Date.now();
  await waitFor(probe, timeoutMs);
  return Date.now() - start;
}

/** Until a freshly written plan gets an ALLOW (the whole chain is healthy again). */
async function untilAllow(label: string, timeoutMs = 30_000): Promise<number> {
  const start = Date.now();
  for (let i = 0; ; i += 1) {
    const id = `${label}-${i}`;
    await addPlan(id).catch(() => undefined);
    const deadline = Date.now() + 400;
    while (Date.now() < deadline) {
      const permit = await permitOf(id);
      if (permit.kind === 'allow') return Date.now() - start;
      if (permit.kind === 'deny') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    if (Date.now() - start > timeoutMs) {
      const last = await permitOf(id);
      throw new Error(
        `${label}: no ALLOW within ${timeoutMs} ms; last permit: ${JSON.stringify(last.kind === 'deny' ? last.permit.raw : last)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function warnLines(service: ServiceProcess, fromMs: number, toMs: number): string[] {
  return service.lines
    .filter(
      (l) => l.atMs >= fromMs && l.atMs <= toMs && l.json !== null && Number(l.json.level) >= 40,
    )
    .map((l) => `${String(l.json?.msg)}|${JSON.stringify(l.json?.component ?? '')}`);
}

beforeAll(async () => {
  assertCliBuilt();
  server = await startEmbeddedRedis();
  venue = await startVenue({ apiKey: API_KEY, apiSecret: API_SECRET, symbols: ['BTCUSDT'] });
  venue.control.setPosition('BTCUSDT', '0.5', '60000');
  direct = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 20 });
  direct.on('error', () => undefined);
  brain = spawnService('brain', ['brain'], env());
  engine = spawnService('reconcile', ['reconcile'], env());
});

afterAll(async () => {
  await brain?.kill('SIGKILL');
  await engine?.kill('SIGKILL');
  direct?.disconnect();
  await venue?.close();
  await server?.stop();
});

describe('Redis killed and restarted empty under running services', () => {
  it(`${OUTAGES} outages: no exit, one log line per component per outage, 503 while down, resume, no stale ALLOW`, async () => {
    const [brainPort, enginePort] = await Promise.all([brain.httpPort(), engine.httpPort()]);
    await untilAllow('warmup');

    const resumeBrainMs: number[] = [];
    const resumeEngineMs: number[] = [];
    const freshSnapshotMs: number[] = [];
    const ledgerInitMs: number[] = [];
    const linesPerOutage: number[] = [];
    let postPlans = 0;
    let staleAllows = 0;
    for (let k = 0; k < OUTAGES; k += 1) {
      const killMs = Date.now();
      await server.kill();
      // While down: both readiness probes fail, both services keep running and count failures.
      await waitUntil(async () => (await httpGet(brainPort, '/readyz')).status === 503);
      await waitUntil(async () => (await httpGet(enginePort, '/readyz')).status === 503);
      await waitUntil(async () =>
        /p33_loop_errors_total\{[^}]*\} [1-9]/.test((await httpGet(brainPort, '/metrics')).body),
      );
      await waitUntil(async () =>
        /p34_cycle_failures_total [1-9]/.test((await httpGet(enginePort, '/metrics')).body),
      );
      // The outage lasts OUTAGE_MS (the fault injected), then Redis comes back.
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - killMs)));
      expect(brain.running() && engine.running()).toBe(true);

      await server.restart();
      const restartedMs = Date.now();
      // Plans written the moment Redis is back — before the services have noticed.
      const ids = [0, 1, 2, 3, 4].map((i) => `post-${k}-${i}`);
      for (const id of ids)
        await waitUntil(() =>
          addPlan(id).then(
            () => true,
            () => false,
          ),
        );
      postPlans += ids.length;
      // Resume = restart complete → every plan answered / the engine's heartbeat back / fresh
      // exchange data and a ledger re-initialised from it (all written after the restart).
      const sinceRestart = (): number => Date.now() - restartedMs;
      const [brainMs, engineMs, snapMs, initMs] = await Promise.all([
        waitUntil(async () =>
          (await Promise.all(ids.map(permitOf))).every((p) => p.kind !== 'missing'),
        ).then(sinceRestart),
        waitUntil(
          async () => (await direct.exists(keys.reconcileHeartbeat).catch(() => 0)) === 1,
        ).then(sinceRestart),
        waitUntil(
          async () =>
            Number(await direct.hget(keys.snapshot('BTCUSDT'), 'ts_ms').catch(() => 0)) >
            restartedMs,
        ).then(sinceRestart),
        waitUntil(
          async () =>
            (await direct.hget(keys.ledger('BTCUSDT'), 'source').catch(() => null)) === 'p34_init',
        ).then(sinceRestart),
      ]);
      resumeBrainMs.push(brainMs);
      resumeEngineMs.push(engineMs);
      freshSnapshotMs.push(snapMs);
      ledgerInitMs.push(initMs);
      for (const id of ids) {
        const permit = await permitOf(id);
        expect(permit.kind === 'allow' || permit.kind === 'deny').toBe(true);
        if (permit.kind === 'allow') {
          const takenMs = (permit.permit.tsMs ?? 0) - (permit.permit.snapshotAgeSec ?? 0) * 1000;
          if (takenMs <= killMs) staleAllows += 1;
        }
      }
      await waitUntil(async () => (await httpGet(brainPort, '/readyz')).status === 200);
      await waitUntil(async () => (await httpGet(enginePort, '/readyz')).status === 200);

      // Logged once per outage: no (message, component) pair repeats within the outage.
      for (const service of [brain, engine]) {
        const lines = warnLines(service, killMs, Date.now());
        expect(new Set(lines).size, `${service.name}: ${lines.join('\n')}`).toBe(lines.length);
        linesPerOutage.push(lines.length);
      }
    }
    expect(staleAllows).toBe(0);
    expect(brain.running() && engine.running()).toBe(true);

    recordFigure('redis-outage', {
      fault: 'Redis SIGKILL + restart empty (brain + engine as child processes)',
      test: 'test/reliability/redis-outage.test.ts',
      iterations: OUTAGES,
      observed: `no exit; /readyz 503 while down; warn/error lines per service per outage: ${linesPerOutage.join(', ')} (each message once); ${postPlans} plans written at restart all answered; 0 ALLOW from pre-outage data`,
      lost: 0,
      recoveryMs: [...resumeBrainMs, ...resumeEngineMs],
      extra: {
        outageMs: OUTAGE_MS,
        brainFirstPermitAfterRestartMs: resumeBrainMs,
        engineHeartbeatAfterRestartMs: resumeEngineMs,
        freshSnapshotAfterRestartMs: freshSnapshotMs,
        ledgerInitAfterRestartMs: ledgerInitMs,
      },
    });
  }, 120_000);

  // Regression: the brain used to write lot sizes (P:posguard:symbol:SYM) only at start and
  // hourly, so after Redis came back empty every permit denied `unknown_lot_size` for up to an
  // hour. It now re-writes the last good lot sizes every few seconds.
  it('after Redis returns empty, an ALLOW is possible again within 5 s', async () => {
    expect(brain.running()).toBe(true);
    await untilAllow('after-last-outage', 5000);
  }, 20_000);

  it('stops cleanly (SIGTERM → exit 0) after the outages', async () => {
    await brain.kill('SIGTERM');
    await engine.kill('SIGTERM');
    expect((await brain.exited).code).toBe(0);
    expect((await engine.exited).code).toBe(0);
  });
});
