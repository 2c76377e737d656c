/**
 * Secrets, Redis authentication, TLS and bind addresses, exercised through the BUILT CLI:
 *
 * - distinctive values of BINANCE_API_SECRET and of the Redis ACL password (in REDIS_URL)
 *   never appear in the services' logs, /metrics, /readyz, `posguard status|holds|ledger
 *   show|reconcile --once|doctor` output, nor in the errors of a wrong password or an
 *   unreachable Redis;
 * - an ACL user (`redis://user:pass@…`) works, a wrong password is refused (exit 1);
 * - `rediss://` works against a TLS redis-server with a verified certificate, and is
 *   refused when the certificate cannot be verified;
 * - metrics/health servers bind 127.0.0.1 by default.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { type EmbeddedRedis, freePort, startEmbeddedRedis } from '../../src/dev/redis-server.js';
import { type Venue, startVenue } from '../../src/dev/venue/venue.js';
import { recordFigure } from '../helpers/reliability-figures.js';
import { waitFor } from '../helpers/wait.js';
import { CLI, assertCliBuilt, httpGet, spawnService } from '../helpers/reliability-process.js';

const API_KEY = 'sec-api-key-7f3a';
const API_SECRET = 'ZZ-binance-secret-Q8x2-never-print';
const REDIS_USER = 'posguard';
const REDIS_PASSWORD = 'ZZ-redis-acl-pw-K4v9';
const DEFAULT_PASSWORD = 'ZZ-default-pw-M1n7';
const WRONG_PASSWORD = 'ZZ-wrong-pw-T5u3';
const SECRETS = [API_SECRET, REDIS_PASSWORD, DEFAULT_PASSWORD, WRONG_PASSWORD];

let server: EmbeddedRedis;
let venue: Venue;

function url(password = REDIS_PASSWORD, port = server.port): string {
  return `redis://${REDIS_USER}:${password}@127.0.0.1:${port}`;
}

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: url(),
    KEY_PREFIX: 'sec',
    P33_ALLOWLIST: 'BTCUSDT',
    P34_ALLOWLIST: 'BTCUSDT',
    P33_POLL_SEC: '0.2',
    P34_LOOP_CADENCE_SEC: '0.2',
    P33_METRICS_PORT: '0',
    P34_PROMETHEUS_PORT: '0',
    P33_LOG_LEVEL: 'debug',
    P34_LOG_LEVEL: 'debug',
    BINANCE_BASE_URL: venue.baseUrl,
    BINANCE_API_KEY: API_KEY,
    BINANCE_API_SECRET: API_SECRET,
    BINANCE_TIMEOUT_SEC: '2',
    ...extra,
  };
}

interface Run {
  args: string;
  code: number | null;
  out: string;
}

function runCli(args: readonly string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: '/tmp', USER: 'sec-test', ...env(extraEnv) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ args: args.join(' '), code, out });
    });
  });
}

function leaks(text: string): string[] {
  return SECRETS.filter((s) => text.includes(s));
}

beforeAll(async () => {
  assertCliBuilt();
  server = await startEmbeddedRedis({
    args: [
      '--requirepass',
      DEFAULT_PASSWORD,
      '--user',
      REDIS_USER,
      'on',
      `>${REDIS_PASSWORD}`,
      '~*',
      '&*',
      '+@all',
    ],
    password: DEFAULT_PASSWORD,
  });
  venue = await startVenue({ apiKey: API_KEY, apiSecret: API_SECRET, symbols: ['BTCUSDT'] });
  venue.control.setPosition('BTCUSDT', '0.02', '60000');
});

afterAll(async () => {
  await venue?.close();
  await server?.stop();
});

describe('secrets never leave the process', () => {
  it('services, /metrics, CLI output and error paths never contain the secrets', async () => {
    const brain = spawnService('brain', ['brain'], env());
    const engine = spawnService('reconcile', ['reconcile'], env());
    const outputs: { what: string; text: string }[] = [];
    try {
      const [brainPort, enginePort] = await Promise.all([brain.httpPort(), engine.httpPort()]);
      // Exchange errors too: a refused key, then a timestamp error, then 5xx.
      venue.control.addFault({ kind: 'invalid_api_key', count: 2 });
      venue.control.addFault({ kind: 'timestamp_outside_recv_window', count: 2 });
      venue.control.addFault({ kind: 'http_5xx', count: 2 });
      // Every injected fault was served, and the brain logged its failed polls.
      await waitFor(
        () =>
          venue.control.faults().length === 0 && brain.output().includes('snapshot poll failing'),
        { what: () => `faults left: ${JSON.stringify(venue.control.faults())}` },
      );
      for (const [name, port] of [
        ['brain', brainPort],
        ['reconcile', enginePort],
      ] as const) {
        for (const path of ['/metrics', '/readyz', '/healthz']) {
          const res = await httpGet(port, path);
          expect(res.status).toBeGreaterThan(0);
          outputs.push({ what: `${name} ${path}`, text: res.body });
        }
      }
      // Plain CLI commands (ACL user from REDIS_URL).
      const runs = await Promise.all([
        runCli(['status']),
        runCli(['status', '--json']),
        runCli(['holds']),
        runCli(['ledger', 'show', 'BTCUSDT']),
        runCli(['reconcile', '--once', '--json']),
        runCli(['doctor']),
        runCli(['doctor', '--json']),
      ]);
      for (const run of runs)
        outputs.push({ what: `posguard ${run.args} (exit ${run.code})`, text: run.out });
      // The running engine leads reconcile: the one-shot cycle refuses to write (SPEC §11),
      // naming the holder — an error path whose output is grepped too.
      const refused = runs.find((r) => r.args.startsWith('reconcile'));
      expect(refused?.code, refused?.out).toBe(1);
      expect(refused?.out).toMatch(/reconcile lease is held by/);
      // Error paths: a wrong password, an unreachable server — both with a password in the URL.
      const wrong = await runCli(['status'], { REDIS_URL: url(WRONG_PASSWORD) });
      const down = await runCli(['status'], { REDIS_URL: url(WRONG_PASSWORD, await freePort()) });
      const wrongOnce = await runCli(['reconcile', '--once'], { REDIS_URL: url(WRONG_PASSWORD) });
      const wrongDoctor = await runCli(['doctor'], { REDIS_URL: url(WRONG_PASSWORD) });
      for (const run of [wrong, down, wrongOnce]) {
        expect(run.code, `${run.args}: ${run.out}`).toBe(1);
        outputs.push({ what: `posguard ${run.args} (bad Redis, exit ${run.code})`, text: run.out });
      }
      expect(wrongDoctor.code).not.toBe(0);
      outputs.push({ what: 'posguard doctor (wrong password)', text: wrongDoctor.out });
    } finally {
      await brain.kill('SIGTERM');
      await engine.kill('SIGTERM');
    }
    // The engine released its lease on stop: the ACL user can run the one-shot cycle
    // (lease, scripts, heartbeat) against the authenticated server.
    const once = await runCli(['reconcile', '--once', '--json']);
    outputs.push({ what: `posguard ${once.args} (exit ${once.code})`, text: once.out });
    expect(once.code, once.out).toBe(0);
    outputs.push({ what: 'posguard brain logs', text: brain.output() });
    outputs.push({ what: 'posguard reconcile logs', text: engine.output() });
    // The services did log (debug level): the grep below is over real output.
    expect(brain.lines.length).toBeGreaterThan(3);
    expect(engine.lines.length).toBeGreaterThan(1);
    const found = outputs.flatMap((o) => leaks(o.text).map((s) => `${o.what}: ${s}`));
    expect(found).toEqual([]);
    const bytes = outputs.reduce((n, o) => n + o.text.length, 0);
    recordFigure('secrets', {
      fault: 'secret values grepped in every output',
      test: 'test/security/secrets-auth.test.ts › services, /metrics, CLI output and error paths…',
      iterations: outputs.length,
      observed: `${outputs.length} outputs (${bytes} bytes: service logs at debug with exchange 401/-1021/5xx, /metrics, /readyz, status, holds, ledger show, reconcile --once, doctor, wrong-password and unreachable-Redis errors): 0 occurrences of ${SECRETS.length} secrets`,
      lost: 0,
    });
  }, 60_000);
});

describe('Redis authentication and TLS', () => {
  it('an ACL user works; a wrong ACL password is refused (exit 1)', async () => {
    const ok = await runCli(['reconcile', '--once']);
    expect(ok.code, ok.out).toBe(0);
    const refused = await runCli(['reconcile', '--once'], { REDIS_URL: url(WRONG_PASSWORD) });
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/WRONGPASS|invalid username-password|NOAUTH|cannot reach Redis/i);
  });

  it('rediss:// works with a verified certificate and is refused without one', async () => {
    const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
    const dir = mkdtempSync(join(tmpdir(), 'posguard-tls-'));
    const cert = join(dir, 'redis.crt');
    const key = join(dir, 'redis.key');
    const made = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { encoding: 'utf8' },
    );
    if (made.status !== 0) {
      process.stdout.write(`[reliability] TLS test skipped: openssl failed: ${made.stderr}\n`);
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    const tlsPort = await freePort();
    let tls: EmbeddedRedis;
    try {
      tls = await startEmbeddedRedis({
        args: [
          '--tls-port',
          String(tlsPort),
          '--tls-cert-file',
          cert,
          '--tls-key-file',
          key,
          '--tls-auth-clients',
          'no',
        ],
      });
    } catch (error) {
      // Debian's redis-server is built with TLS; a build without it cannot run this test.
      process.stdout.write(
        `[reliability] TLS test skipped (${probe.stdout.trim()}): ${String(error)}\n`,
      );
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    try {
      const tlsUrl = `rediss://127.0.0.1:${tlsPort}`;
      const ok = await runCli(['reconcile', '--once'], {
        REDIS_URL: tlsUrl,
        NODE_EXTRA_CA_CERTS: cert,
      });
      expect(ok.code, ok.out).toBe(0);
      const unverified = await runCli(['reconcile', '--once'], { REDIS_URL: tlsUrl });
      expect(unverified.code).toBe(1);
    } finally {
      await tls.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('bind addresses', () => {
  it('metrics/health bind 127.0.0.1 unless configured', async () => {
    const config = loadConfig({});
    expect(config.brain.metricsHost).toBe('127.0.0.1');
    expect(config.reconcile.metricsHost).toBe('127.0.0.1');
    const withoutHosts = env();
    const brain = spawnService('brain', ['brain'], withoutHosts);
    const engine = spawnService('reconcile', ['reconcile'], withoutHosts);
    try {
      const ports = await Promise.all([brain.httpPort(), engine.httpPort()]);
      const external = Object.values(networkInterfaces())
        .flat()
        .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;
      for (const port of ports) {
        expect((await httpGet(port, '/healthz')).status).toBe(200);
        if (external === undefined) continue;
        const reached = await new Promise<boolean>((resolve) => {
          const socket = createConnection({ host: external, port, timeout: 1000 });
          socket.once('connect', () => {
            socket.destroy();
            resolve(true);
          });
          socket.once('error', () => resolve(false));
          socket.once('timeout', () => {
            socket.destroy();
            resolve(false);
          });
        });
        expect(reached, `port ${port} reachable on ${external}`).toBe(false);
      }
      if (external === undefined)
        process.stdout.write(
          '[reliability] no non-loopback IPv4 interface: external bind check skipped\n',
        );
    } finally {
      await brain.kill('SIGTERM');
      await engine.kill('SIGTERM');
    }
  }, 30_000);
});
