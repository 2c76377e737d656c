/**
 * A posguard deployment in miniature, for the deployment tests: the simulated venue and
 * the two services started from the BUILT CLI exactly as the systemd units start them
 * (the ExecStart line is read from deploy/systemd/*.service, with the repository standing
 * in for /opt/posguard and deploy/config/ for /etc/quantum/), configured by the deploy
 * env files plus environment overrides — the way systemd's Environment= would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES } from '../../src/config/config.js';
import { freePort } from '../../src/dev/redis-server.js';
import { REPO, repoPath } from './tools.js';
import { waitFor } from '../helpers/wait.js';

export const VENUE_KEY = 'posguard-test-key';
export const VENUE_SECRET = 'posguard-test-secret-not-real';

export interface StackOptions {
  redisUrl: string;
  prefix: string;
  symbols: readonly string[];
  /** Extra variables for both services (e.g. short intervals). */
  env?: Record<string, string>;
}

export interface Stack {
  /** The environment the services run with (and the proof scripts should use). */
  env: NodeJS.ProcessEnv;
  venueUrl: string;
  brainUrl: string;
  reconcileUrl: string;
  /** Output of each process so far (for failure messages). */
  logs(): string;
  /** SIGTERM one service (as `systemctl stop` would); resolves with its exit code. */
  stopService(name: 'brain' | 'reconcile'): Promise<number | null>;
  /** SIGTERM everything; resolves with each service's exit code. */
  stop(): Promise<{ brain: number | null; reconcile: number | null }>;
}

/** The unit's ExecStart, as argv, with this checkout in place of the installed paths. */
export function execStartFromUnit(unitFile: string): string[] {
  const text = readFileSync(repoPath('deploy/systemd', unitFile), 'utf8');
  const line = /^ExecStart=(.+)$/m.exec(text)?.[1];
  if (line === undefined) throw new Error(`${unitFile} has no ExecStart`);
  const [node, ...args] = line.trim().split(/\s+/);
  if (node !== '/usr/bin/node') throw new Error(`${unitFile}: unexpected ExecStart binary ${node}`);
  return [
    process.execPath,
    ...args.map((arg) =>
      arg.replace('/opt/posguard/', REPO).replace(/^\/etc\/quantum\//, repoPath('deploy/config/')),
    ),
  ];
}

/** process.env without any variable posguard reads, so a developer's shell cannot leak in. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of CONFIG_VARIABLES) delete env[name];
  return env;
}

interface Proc {
  child: ChildProcess;
  output: string[];
}

function launch(argv: readonly string[], env: NodeJS.ProcessEnv, name: string): Proc {
  const [cmd, ...args] = argv;
  const child = spawn(cmd ?? process.execPath, args, {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer): void => {
    output.push(chunk.toString());
    if (output.length > 400) output.splice(0, output.length - 400);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', (code, signal) =>
    output.push(`\n[${name} exited code=${code} signal=${signal}]\n`),
  );
  return { child, output };
}

async function waitForReady(url: string, proc: Proc, name: string): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      if (proc.child.exitCode !== null)
        throw new Error(`${name} exited early:\n${proc.output.join('')}`);
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
        last = `${response.status} ${await response.text()}`;
        return response.ok;
      } catch (error) {
        last = String(error);
        return false;
      }
    },
    {
      timeoutMs: 30_000,
      everyMs: 100,
      what: () => `${name} ready at ${url} (${last}):\n${proc.output.join('')}`,
    },
  );
}

function stopProc(proc: Proc): Promise<number | null> {
  const { child } = proc;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const [venuePort, brainPort, reconcilePort] = [
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const venueUrl = `http://127.0.0.1:${venuePort}`;
  const env: NodeJS.ProcessEnv = {
    ...cleanEnv(),
    REDIS_URL: options.redisUrl,
    KEY_PREFIX: options.prefix,
    BINANCE_API_KEY: VENUE_KEY,
    BINANCE_API_SECRET: VENUE_SECRET,
    BINANCE_BASE_URL: venueUrl,
    BINANCE_WS_URL: `ws://127.0.0.1:${venuePort}`,
    P33_METRICS_PORT: String(brainPort),
    P34_PROMETHEUS_PORT: String(reconcilePort),
    P33_ALLOWLIST: options.symbols.join(','),
    P34_ALLOWLIST: options.symbols.join(','),
    P33_LOG_LEVEL: 'INFO',
    P34_LOG_LEVEL: 'INFO',
    ...options.env,
  };
  const cli = repoPath('dist/src/cli/main.js');
  const venue = launch(
    [
      process.execPath,
      cli,
      'venue',
      '--port',
      String(venuePort),
      '--symbols',
      options.symbols.join(','),
    ],
    env,
    'venue',
  );
  const procs: Proc[] = [venue];
  const stopAll = async (): Promise<(number | null)[]> => Promise.all(procs.map(stopProc));
  try {
    await waitForReady(`${venueUrl}/_control/positions`, venue, 'venue');
    const reconcile = launch(
      execStartFromUnit('quantum-reconcile-engine.service'),
      env,
      'reconcile',
    );
    procs.push(reconcile);
    const brain = launch(execStartFromUnit('quantum-position-state-brain.service'), env, 'brain');
    procs.push(brain);
    const brainUrl = `http://127.0.0.1:${brainPort}`;
    const reconcileUrl = `http://127.0.0.1:${reconcilePort}`;
    await Promise.all([
      waitForReady(`${brainUrl}/readyz`, brain, 'brain'),
      waitForReady(`${reconcileUrl}/readyz`, reconcile, 'reconcile'),
    ]);
    return {
      env,
      venueUrl,
      brainUrl,
      reconcileUrl,
      logs: () => procs.map((p) => p.output.join('')).join('\n----\n'),
      stopService: (name) => stopProc(name === 'brain' ? brain : reconcile),
      stop: async () => {
        const [brainCode, reconcileCode] = await Promise.all([
          stopProc(brain),
          stopProc(reconcile),
        ]);
        await stopProc(venue);
        return { brain: brainCode, reconcile: reconcileCode };
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Metric family names a /metrics page declares (`# TYPE name kind`). */
export async function exportedMetrics(
  baseUrl: string,
): Promise<{ names: Set<string>; text: string }> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const names = new Set([...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1] ?? ''));
  return { names, text };
}
