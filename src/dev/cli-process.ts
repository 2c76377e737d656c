/**
 * The services as operators run them: child processes of the BUILT CLI
 * (`node dist/src/cli/main.js brain|reconcile`), env explicit, every output line captured
 * so callers can count log lines and grep for secrets. Used by the tests, the HA cluster
 * (ha-cluster.ts) and the benchmarks; `npm test` and `npm run bench` build first.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GaveUp, waitFor } from './redis-process.js';

/** The built CLI of the working tree (run from the repository root). */
export const CLI = join(process.cwd(), 'dist/src/cli/main.js');

/**
 * A private, consistent copy of the build (dist/, the Lua scripts, package.json), so
 * processes spawned for minutes are not hit by a concurrent `npm run build` rewriting
 * dist/ file by file. Verified with `--help`; retried while a build is half-written.
 */
export function snapshotBuild(): { cli: string; remove(): void } {
  assertCliBuilt();
  for (let attempt = 0; ; attempt += 1) {
    const dir = mkdtempSync(join(tmpdir(), 'posguard-build-'));
    cpSync(join(process.cwd(), 'dist'), join(dir, 'dist'), { recursive: true });
    cpSync(join(process.cwd(), 'src/redis/lua'), join(dir, 'src/redis/lua'), { recursive: true });
    cpSync(join(process.cwd(), 'package.json'), join(dir, 'package.json'));
    symlinkSync(join(process.cwd(), 'node_modules'), join(dir, 'node_modules'), 'dir');
    const cli = join(dir, 'dist/src/cli/main.js');
    const probe = spawnSync(process.execPath, [cli, 'brain', '--help'], { encoding: 'utf8' });
    if (probe.status === 0)
      return { cli, remove: () => rmSync(dir, { recursive: true, force: true }) };
    rmSync(dir, { recursive: true, force: true });
    if (attempt >= 20) throw new Error(`the build does not run: ${probe.stderr}`);
    spawnSync('sleep', ['1']);
  }
}

export function assertCliBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
}

export interface ServiceLine {
  stream: 'stdout' | 'stderr';
  text: string;
  json: Record<string, unknown> | null;
  atMs: number;
}

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: ServiceLine[];
  /** Resolves with the exit code/signal once the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  /** All output so far, as one string (secret greps). */
  output(): string;
  /** The port the service's HTTP endpoint bound (from its start log line). */
  httpPort(timeoutMs?: number): Promise<number>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

function baseEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env };
}

function portFrom(json: Record<string, unknown> | null): number | null {
  if (json === null) return null;
  if (typeof json.metricsPort === 'number' && json.metricsPort > 0) return json.metricsPort;
  if (typeof json.metrics === 'string') {
    const match = /:(\d+)$/.exec(json.metrics);
    if (match) return Number(match[1]);
  }
  return null;
}

export function spawnService(
  name: string,
  args: readonly string[],
  env: Record<string, string>,
  cli: string = CLI,
): ServiceProcess {
  const child = spawn(process.execPath, [cli, ...args], {
    env: baseEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: ServiceLine[] = [];
  const raw: string[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    let carry = '';
    child[stream]?.on('data', (chunk: Buffer) => {
      const text = carry + chunk.toString('utf8');
      raw.push(chunk.toString('utf8'));
      const parts = text.split('\n');
      carry = parts.pop() ?? '';
      for (const part of parts) {
        if (part.trim() === '') continue;
        let json: Record<string, unknown> | null;
        try {
          json = JSON.parse(part) as Record<string, unknown>;
        } catch {
          json = null;
        }
        lines.push({ stream, text: part, json, atMs: Date.now() });
      }
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let alive = true;
  void exited.then(() => {
    alive = false;
  });
  return {
    name,
    child,
    lines,
    exited,
    running: () => alive,
    output: () => raw.join(''),
    httpPort: (timeoutMs = 15_000) =>
      waitFor(`${name} to report its port`, timeoutMs, () => {
        for (const line of lines) {
          const port = portFrom(line.json);
          if (port !== null) return Promise.resolve(port);
        }
        if (!alive) throw new GaveUp(`${name} exited before binding its port:\n${raw.join('')}`);
        throw new Error('no start line with a port yet');
      }),
    kill: async (signal = 'SIGKILL') => {
      if (!alive) return;
      child.kill(signal);
      await exited;
    },
  };
}

/** GET a path of a service's HTTP endpoint: status and body (status 0 when unreachable). */
export async function httpGet(
  port: number,
  path: string,
): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      signal: AbortSignal.timeout(3000),
    });
    return { status: res.status, body: await res.text() };
  } catch {
    return { status: 0, body: '' };
  }
}
