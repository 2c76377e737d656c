/**
 * Following the master under Redis Sentinel (SPEC §11): the three ways a connection learns
 * that the master moved, and `onMasterSwitch` for the services.
 *
 * - `+switch-master` published by a sentinel: `followSwitchMessages` reconnects a ready
 *   connection that is not on the announced master. After a forced failover the old
 *   master keeps answering (and accepting writes) until a sentinel turns it into a
 *   replica — by default up to ~20 s later — so waiting for that is not enough.
 * - a `READONLY` reply: `reconnectOnReadOnly` (the master was demoted under the
 *   connection without a sentinel closing it).
 * - the connection drops (master killed): ioredis reconnects through the sentinels.
 *
 * Why not ioredis' own `failoverDetector`: when the connection dropped by itself and a
 * `+switch-master` arrives while it is asking the sentinels for the master, the detector
 * aborts that request and ioredis 6.0.0 ends the connection for good (status `end`,
 * every command "Connection is closed."). Seen here after killing the master under load.
 * This watcher only reconnects a connection that is `ready`.
 */
import { Redis } from 'ioredis';
import type { RedisSentinelConfig } from '../config/config.js';

/**
 * A write refused with `READONLY` reached a replica: reconnect (through the sentinels: to
 * the master they name) and fail the command with its READONLY error — 1, not 2 (resend):
 * with the offline queue off a resend cannot wait for the new connection, and the caller
 * decides what to redo on the new master (issue 12: leases are re-elected there first).
 */
export function reconnectOnReadOnly(error: Error): 1 | false {
  return /^READONLY\b/.test(error.message) ? 1 : false;
}

/**
 * Subscribes to `+switch-master` on each configured sentinel, for as long as `redis`
 * lives (closed on its `end`). A switch of `sentinel.masterName` reconnects `redis` when it
 * is ready on another server; when it is between connections, its next ready is checked
 * once (it may have been told the old master by a sentinel that had not switched yet).
 */
export function followSwitchMessages(redis: Redis, sentinel: RedisSentinelConfig): void {
  let recheck: string | undefined;
  const follow = (announced: string): void => {
    const server = connectedServer(redis);
    if (server === undefined) recheck = announced;
    else if (server !== announced) redis.disconnect(true);
  };
  const onReady = (): void => {
    const announced = recheck;
    recheck = undefined;
    if (announced !== undefined && connectedServer(redis) !== announced) redis.disconnect(true);
  };
  const watchers = sentinel.sentinels.map(({ host, port }) => {
    const watcher = new Redis({
      host,
      port,
      password: sentinel.sentinelPassword,
      enableReadyCheck: false,
      maxRetriesPerRequest: null,
      connectTimeout: 2000,
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
    });
    watcher.on('error', () => undefined);
    watcher.on('message', (_channel: string, message: string) => {
      // "<master-name> <old-ip> <old-port> <new-ip> <new-port>"
      const [name, , , ip, port] = message.split(' ');
      if (name === sentinel.masterName && ip !== undefined && port !== undefined) {
        follow(addressText(ip, Number(port)));
      }
    });
    watcher.subscribe('+switch-master').catch(() => undefined);
    return watcher;
  });
  redis.on('ready', onReady);
  redis.once('end', () => {
    redis.off('ready', onReady);
    for (const watcher of watchers) watcher.disconnect();
  });
}

/** A connection that moved from one server (`host:port`) to another. */
export interface MasterSwitch {
  from: string;
  to: string;
}

/**
 * Calls `listener` each time `redis` becomes ready on a different server than the one it
 * was on — once per master switch, whatever caused the reconnect (`+switch-master`,
 * `READONLY`, a killed master); reconnects to the same server are not switches. Returns
 * a function that stops listening. Each connection reports its own moves.
 */
export function onMasterSwitch(redis: Redis, listener: (change: MasterSwitch) => void): () => void {
  let current = connectedServer(redis);
  const onReady = (): void => {
    const server = connectedServer(redis);
    if (server === undefined) return;
    const previous = current;
    current = server;
    if (previous !== undefined && previous !== server) listener({ from: previous, to: server });
  };
  redis.on('ready', onReady);
  return () => {
    redis.off('ready', onReady);
  };
}

/** `host:port` of the server this connection is ready on, or undefined. */
function connectedServer(redis: Redis): string | undefined {
  if (redis.status !== 'ready') return undefined;
  const { remoteAddress, remotePort } = redis.stream;
  if (remoteAddress === undefined || remotePort === undefined) return undefined;
  return addressText(remoteAddress, remotePort);
}

function addressText(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
