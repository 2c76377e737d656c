/**
 * A TCP proxy between one HA instance and Redis that can hold the instance's writes in
 * transit — the "partition" of LESSONS #24 for the fencing figure: the leader sent a write
 * with its epoch, the write reaches Redis only after a standby took over.
 *
 * Normally every byte passes. `hold()` arms it: on each of the instance's connections,
 * from the first command that is a write script of a leader role or a lease renewal
 * (matched by the script's SHA1, for EVALSHA, or the SHA1 of EVAL's body), that command
 * and everything the connection sends after it stay in the proxy, in order (so replies
 * still match requests). `release()` sends what was held and lets bytes pass again.
 * Nothing else is touched: reads, blocking reads, subscriptions pass.
 *
 * The proxy's own connections to Redis are what Redis (CLIENT LIST, MONITOR) sees; `owns`
 * tells whether a `host:port` Redis reports is one of them.
 */
import { createHash } from 'node:crypto';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { luaSource } from '../../src/redis/scripts/script.js';

/** The scripts that write a role's keys (fenced) and the lease renewal. */
export const HELD_SCRIPTS = [
  'reconcile_commit',
  'reconcile_steady',
  'reconcile_heartbeat',
  'brain_write_snapshots',
  'brain_write_lot_sizes',
  'lease_renew',
] as const;

/** Scripts that are never the start of a hold, named in `heldLabels` when held behind one. */
const OTHER_SCRIPTS = [
  'lease_acquire',
  'lease_release',
  'reconcile_read_batch',
  'brain_issue_permit',
  'brain_apply_fill',
] as const;

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

/** One complete RESP command at the start of `buf` (its byte length and first two args), or null. */
function nextCommand(buf: Buffer): { length: number; args: string[] } | null {
  if (buf.length === 0) return null;
  if (buf[0] !== 0x2a) {
    // An inline command (not sent by ioredis): up to CRLF.
    const end = buf.indexOf('\r\n');
    if (end < 0) return null;
    return { length: end + 2, args: buf.subarray(0, end).toString('utf8').split(' ') };
  }
  let at = buf.indexOf('\r\n');
  if (at < 0) return null;
  const count = Number(buf.subarray(1, at).toString('latin1'));
  at += 2;
  const args: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd < 0) return null;
    const len = Number(buf.subarray(at + 1, lineEnd).toString('latin1'));
    const start = lineEnd + 2;
    if (buf.length < start + len + 2) return null;
    if (i < 2) args.push(buf.subarray(start, start + len).toString('utf8'));
    at = start + len + 2;
  }
  return { length: at, args };
}

class Link {
  private pending: Buffer = Buffer.alloc(0);
  private held: Buffer[] = [];
  private holding = false;
  readonly upstream: Socket;

  constructor(
    private readonly proxy: HoldProxy,
    readonly client: Socket,
    target: { host: string; port: number },
  ) {
    this.upstream = createConnection(target);
    this.upstream.setNoDelay(true);
    client.setNoDelay(true);
    this.upstream.on('connect', () => proxy.noteUpstream(this.upstream));
    this.upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    const close = (): void => {
      client.destroy();
      this.upstream.destroy();
      proxy.forget(this);
    };
    client.on('error', close);
    client.on('close', close);
    this.upstream.on('error', close);
    this.upstream.on('close', close);
  }

  private fromClient(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const pass: Buffer[] = [];
    for (;;) {
      const cmd = nextCommand(this.pending);
      if (cmd === null) break;
      const bytes = this.pending.subarray(0, cmd.length);
      this.pending = this.pending.subarray(cmd.length);
      if (!this.holding && this.proxy.armed && this.proxy.isHeld(cmd.args)) {
        this.holding = true;
        this.proxy.heldConnections += 1;
      }
      if (this.holding) {
        this.held.push(Buffer.from(bytes));
        this.proxy.heldLabels.push(this.proxy.label(cmd.args));
      } else pass.push(bytes);
    }
    if (pass.length > 0) this.upstream.write(Buffer.concat(pass));
  }

  /** Sends what was held, in order, and passes again. */
  release(): number {
    const held = this.held;
    this.held = [];
    this.holding = false;
    if (held.length > 0) this.upstream.write(Buffer.concat(held));
    return held.length;
  }
}

export class HoldProxy {
  armed = false;
  /** Connections that started holding since the last `hold()`. */
  heldConnections = 0;
  /** What was held since the last `hold()`: script names (by SHA1) or command names. */
  heldLabels: string[] = [];
  private readonly links = new Set<Link>();
  /** Local ports of every upstream connection ever opened (kept after they close). */
  private readonly ports = new Set<number>();
  private readonly heldShas: ReadonlySet<string>;
  private readonly scripts: ReadonlyMap<string, string>;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {
    this.scripts = new Map(
      [...HELD_SCRIPTS, ...OTHER_SCRIPTS].map((name) => [sha1(luaSource(name)), name]),
    );
    this.heldShas = new Set(HELD_SCRIPTS.map((name) => sha1(luaSource(name))));
  }

  /** A command's name, or its script's for EVAL/EVALSHA of a known script. */
  label(args: readonly string[]): string {
    const name = (args[0] ?? '').toLowerCase();
    const sha =
      name === 'evalsha'
        ? (args[1] ?? '').toLowerCase()
        : name === 'eval'
          ? sha1(args[1] ?? '')
          : null;
    return sha === null ? name : (this.scripts.get(sha) ?? `${name} (unknown script)`);
  }

  static async start(target: { host: string; port: number }): Promise<HoldProxy> {
    let proxy: HoldProxy | null = null;
    const server = createServer((client) => {
      if (proxy !== null) proxy.links.add(new Link(proxy, client, target));
      else client.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    proxy = new HoldProxy(server, address.port);
    return proxy;
  }

  isHeld(args: readonly string[]): boolean {
    const name = (args[0] ?? '').toLowerCase();
    if (name === 'evalsha') return this.heldShas.has((args[1] ?? '').toLowerCase());
    if (name === 'eval') return this.heldShas.has(sha1(args[1] ?? ''));
    return false;
  }

  hold(): void {
    this.heldConnections = 0;
    this.heldLabels = [];
    this.armed = true;
  }

  /** Stops holding; sends every held command. Returns how many were held. */
  release(): number {
    this.armed = false;
    let n = 0;
    for (const link of this.links) n += link.release();
    return n;
  }

  /** Whether Redis' `host:port` of a client is one of this proxy's upstream connections. */
  owns(client: string): boolean {
    const port = Number(client.slice(client.lastIndexOf(':') + 1));
    return this.ports.has(port);
  }

  noteUpstream(socket: Socket): void {
    if (socket.localPort !== undefined) this.ports.add(socket.localPort);
  }

  forget(link: Link): void {
    this.links.delete(link);
  }

  async close(): Promise<void> {
    for (const link of this.links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
