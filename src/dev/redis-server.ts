/**
 * Starts a private `redis-server` on a free port in a temporary directory with no
 * persistence. Used by the test harness, the demo and the benchmarks — never the shared
 * 6379. Found on PATH or at REDIS_SERVER_BIN.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { PosguardError } from '../errors.js';

export interface EmbeddedRedis {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its directory. */
  stop(): Promise<void>;
  /** Kills the server abruptly, keeping port and directory for `restart()`. */
  kill(): Promise<void>;
  /** Starts a fresh server on the same port (after `kill()`). */
  restart(): Promise<void>;
}

export interface EmbeddedRedisOptions {
  port?: number;
  /** Extra `redis-server` arguments, e.g. ['--requirepass', 'x']. */
  args?: readonly string[];
  /** Password to use when checking readiness. */
  password?: string;
}

export function redisServerBinary(): string {
  const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new PosguardError(
      'REDIS_SERVER_MISSING',
      `redis-server not found (tried ${JSON.stringify(bin)}). Install it (Debian/Ubuntu: ` +
        `sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_SERVER_BIN ` +
        `to its path. Redis ≥ 6.2 is required.`,
    );
  }
  return bin;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPing(
  port: number,
  password: string | undefined,
  child: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    const client = new Redis({
      port,
      host: '127.0.0.1',
      password,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return;
    } catch (error) {
      lastError = error;
      client.disconnect();
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`redis-server on port ${port} did not answer PING: ${String(lastError)}`);
}

export async function startEmbeddedRedis(
  options: EmbeddedRedisOptions = {},
): Promise<EmbeddedRedis> {
  const bin = redisServerBinary();
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'posguard-redis-'));
  let child: ChildProcess;

  const launch = async (): Promise<void> => {
    child = spawn(
      bin,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--logfile',
        '',
        '--loglevel',
        'warning',
        ...(options.args ?? []),
      ],
      { stdio: 'ignore' },
    );
    child.unref();
    await waitForPing(port, options.password, child);
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  const onExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', onExit);

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child.pid ?? -1;
    },
    stop: async () => {
      process.off('exit', onExit);
      await terminate('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    kill: () => terminate('SIGKILL'),
    restart: launch,
  };
}
