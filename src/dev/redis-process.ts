/**
 * One `redis-server` process (a data node or a sentinel) started from a generated config
 * file, for the Sentinel test set-up (redis-sentinel.ts); and one-shot questions to a
 * server on a port. Its stdout/stderr (the server log and any config error) go to
 * `<name>.log` beside the config, so a failed start can say why.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisAddress {
  readonly host: string;
  readonly port: number;
}

export const LOCALHOST = '127.0.0.1';

export class RedisProcess {
  private child: ChildProcess | undefined;
  private everPid = -1;
  private stopped = false;
  readonly confPath: string;
  readonly logPath: string;

  constructor(
    readonly name: string,
    readonly port: number,
    dir: string,
    private readonly sentinel: boolean,
  ) {
    this.confPath = join(dir, `${name}.conf`);
    this.logPath = join(dir, `${name}.log`);
  }

  get address(): RedisAddress {
    return { host: LOCALHOST, port: this.port };
  }

  /** The PID of the last start (kept after the process ended, for checks). */
  get pid(): number {
    return this.everPid;
  }

  /** SIGSTOPped by `pause()` and not yet resumed. */
  get paused(): boolean {
    return this.stopped && this.running;
  }

  /** SIGSTOP: the process keeps its sockets but answers nothing (a hung host). */
  pause(): void {
    if (!this.running) return;
    this.child?.kill('SIGSTOP');
    this.stopped = true;
  }

  /** SIGCONT after `pause()`. */
  resume(): void {
    if (this.running) this.child?.kill('SIGCONT');
    this.stopped = false;
  }

  get running(): boolean {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** Writes the config file (one directive per line) and starts the server. */
  start(bin: string, directives: readonly string[]): void {
    writeFileSync(this.confPath, `${directives.join('\n')}\n`);
    const log = openSync(this.logPath, 'a');
    try {
      const args = this.sentinel ? [this.confPath, '--sentinel'] : [this.confPath];
      const child = spawn(bin, args, { stdio: ['ignore', log, log] });
      child.on('error', () => undefined); // a spawn failure shows as exitCode/no pid below
      child.unref();
      this.child = child;
      this.everPid = child.pid ?? -1;
    } finally {
      closeSync(log);
    }
  }

  /** Ends the process (`signal`, then SIGKILL after 3 s) and waits until it has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    if (this.stopped) this.resume(); // a stopped process handles SIGTERM only once continued
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  /** Synchronous last resort (process exit): SIGKILL without waiting. */
  killNow(): void {
    if (this.running) this.child?.kill('SIGKILL');
  }

  /** The last lines of the server's output (why it refused to start). */
  logTail(lines = 8): string {
    if (!existsSync(this.logPath)) return '(no log)';
    const text = readFileSync(this.logPath, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  }
}

/**
 * Sends one command to the server at `port` on a fresh connection and closes it. Throws
 * when the server does not answer within `timeoutMs`.
 */
export async function ask(
  port: number,
  password: string | undefined,
  args: readonly [string, ...(string | number)[]],
  timeoutMs = 1000,
): Promise<unknown> {
  const client = new Redis({
    host: LOCALHOST,
    port,
    password,
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const [command, ...rest] = args;
    return await client.call(command, ...rest);
  } finally {
    client.disconnect();
  }
}

/** `INFO replication` as a record (role, master_port, master_link_status, …). */
export async function replicationInfo(
  port: number,
  password: string | undefined,
): Promise<Record<string, string>> {
  const text = String(await ask(port, password, ['INFO', 'replication']));
  const fields: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0) fields[line.slice(0, at)] = line.slice(at + 1);
  }
  return fields;
}

/** A flat [field, value, …] reply (SENTINEL MASTER, SENTINEL REPLICAS items) as a record. */
export function fieldsOf(reply: unknown): Record<string, string> {
  const fields: Record<string, string> = {};
  if (!Array.isArray(reply)) return fields;
  for (let i = 0; i + 1 < reply.length; i += 2) fields[String(reply[i])] = String(reply[i + 1]);
  return fields;
}

/** Thrown by a `waitFor` probe to stop waiting at once (a process died). */
export class GaveUp extends Error {}

/**
 * Polls `probe` every 50 ms until it returns a value; a probe says "not yet" by throwing
 * (the last reason is in the timeout error), or "never" by throwing `GaveUp`.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      if (error instanceof GaveUp) throw error;
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (${last})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
