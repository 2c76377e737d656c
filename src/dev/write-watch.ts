/**
 * Every write that lands in one Redis server, in the order the server ran it, with the
 * connection that sent it — from the server's MONITOR feed. The HA tests use it to prove a
 * fenced leader wrote nothing (SPEC §11): "not one of its writes lands" is checked on what
 * Redis executed, for every key, not on what the services say they did.
 *
 * - A command is a write when Redis flags it `write` (`COMMAND`, asked once at start); its
 *   keys come from the same table (first/last/step; `xgroup|create`-style subcommands too).
 * - A write a script ran (MONITOR shows it as `[0 lua]`) is credited to the connection
 *   that called the script: the feed shows the EVAL/EVALSHA/FCALL line first, then the
 *   commands it ran (checked at start with a probe script; a server that reports them in
 *   another order is refused). A fenced script runs only reads, so it leaves no write here.
 * - MULTI/EXEC: the queued commands appear at EXEC, under the client's address.
 *
 * Not for production: MONITOR costs the server a copy of every command.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { waitFor } from './redis-process.js';

export interface RedisWrite {
  /** Position in the feed (the server's execution order). */
  readonly seq: number;
  /** The server's clock when it ran the command, ms. */
  readonly serverMs: number;
  /** `host:port` of the connection that sent it (for a script's writes: the caller's). */
  readonly client: string;
  /** Lower-case command name (`hset`, `xadd`, …). */
  readonly command: string;
  readonly args: readonly string[];
  /** The keys it writes. */
  readonly keys: readonly string[];
  /** Run by a script (EVAL/EVALSHA/FCALL), not sent directly. */
  readonly viaScript: boolean;
}

export interface WriteWatch {
  /** The writes seen so far, in execution order. */
  writes(): readonly RedisWrite[];
  /** Resolves once every command the server ran before this call is in `writes()`. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

interface CommandSpec {
  write: boolean;
  first: number;
  last: number;
  step: number;
}

const SCRIPT_CALLS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);

/** `COMMAND`'s reply as name → spec; subcommands as `container|sub` (Redis ≥ 7). */
function commandTable(reply: unknown): Map<string, CommandSpec> {
  const table = new Map<string, CommandSpec>();
  const add = (entry: unknown): void => {
    if (!Array.isArray(entry)) return;
    const [name, , flags, first, last, step] = entry as unknown[];
    table.set(String(name).toLowerCase(), {
      write: Array.isArray(flags) && flags.map(String).includes('write'),
      first: Number(first),
      last: Number(last),
      step: Number(step),
    });
    const subcommands: unknown = entry[9];
    if (Array.isArray(subcommands)) subcommands.forEach(add);
  };
  if (Array.isArray(reply)) reply.forEach(add);
  return table;
}

function keysOf(spec: CommandSpec, argv: readonly string[]): string[] {
  if (spec.first <= 0 || spec.step <= 0) return [];
  const last = spec.last < 0 ? argv.length + spec.last : spec.last;
  const keys: string[] = [];
  for (let i = spec.first; i <= last && i < argv.length; i += spec.step)
    keys.push(argv[i] as string);
  return keys;
}

/**
 * Starts watching the server `control` is connected to (MONITOR runs on a duplicate of
 * it). `probeKey` is written once by a probe script to check the feed's order.
 */
export async function watchWrites(control: Redis, probeKey: string): Promise<WriteWatch> {
  const table = commandTable(await control.call('COMMAND'));
  const writes: RedisWrite[] = [];
  const echoes = new Set<string>();
  let seq = 0;
  /** The caller of the script whose commands the feed is showing, else null. */
  let scriptCaller: string | null = null;
  // Like `control.monitor()`, but with the error listener attached before MONITOR is sent:
  // a feed line arriving in the same chunk as MONITOR's reply can make ioredis emit
  // "Command queue state error", which without a listener ends the process.
  const monitor = control.duplicate({ monitor: true, lazyConnect: true });
  monitor.on('error', () => undefined);
  const monitoring = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('MONITOR did not start within 10 s')), 10_000);
    monitor.once('monitoring', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  await monitor.connect();
  await monitoring;
  monitor.on('monitor', (time: string, argv: string[], source: string) => {
    seq += 1;
    const name = (argv[0] ?? '').toLowerCase();
    if (source !== 'lua') {
      scriptCaller = SCRIPT_CALLS.has(name) ? source : null;
      if (name === 'echo' && argv[1] !== undefined) echoes.add(argv[1]);
    }
    const spec =
      table.get(`${name}|${(argv[1] ?? '').toLowerCase()}`) ?? table.get(name) ?? undefined;
    if (spec === undefined || !spec.write) return;
    const viaScript = source === 'lua';
    writes.push({
      seq,
      serverMs: Math.round(Number(time) * 1000),
      client: viaScript ? (scriptCaller ?? 'lua (caller unknown)') : source,
      command: name,
      args: argv.slice(1),
      keys: keysOf(spec, argv),
      viaScript,
    });
  });

  const flush = async (): Promise<void> => {
    const token = `write-watch-${randomBytes(6).toString('hex')}`;
    await control.echo(token);
    await waitFor('the MONITOR feed to catch up', 10_000, () => {
      if (!echoes.has(token)) throw new Error('not yet');
      echoes.delete(token);
      return Promise.resolve();
    });
  };
  const stop = async (): Promise<void> => {
    await monitor.quit().catch(() => monitor.disconnect());
  };

  // The order check: a probe script's SET must show up credited to our own connection.
  const self = /addr=(\S+)/.exec(String(await control.call('CLIENT', 'INFO')))?.[1];
  const token = randomBytes(6).toString('hex');
  await control.eval(
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', 60000) return 1",
    1,
    probeKey,
    token,
  );
  await flush();
  const probe = writes.find((w) => w.keys.includes(probeKey) && w.args.includes(token));
  if (probe === undefined || !probe.viaScript || probe.client !== self) {
    await stop();
    throw new Error(
      `this Redis server's MONITOR feed does not show a script's commands after the script ` +
        `call (probe: ${JSON.stringify(probe ?? null)}, own address ${self ?? '?'}): ` +
        'the write watch cannot tell who wrote',
    );
  }
  return { writes: () => writes, flush, stop };
}
