/**
 * The REDIS_* variables (SPEC §8, §11). Either one server — REDIS_URL, or
 * REDIS_HOST/REDIS_PORT with REDIS_USERNAME/REDIS_PASSWORD — or a master managed by
 * Redis Sentinel: REDIS_SENTINELS, REDIS_SENTINEL_MASTER, REDIS_SENTINEL_PASSWORD (the
 * sentinels' own), and REDIS_USERNAME/REDIS_PASSWORD for the data servers.
 *
 * REDIS_URL together with REDIS_SENTINELS is refused rather than ranked: they name
 * different servers, and a service that silently picked one could write to a Redis its
 * peer does not read. Credentials come from one place: REDIS_URL's, or the variables.
 * REDIS_HOST/REDIS_PORT keep their defaults in the env files and are ignored with Sentinel.
 */
import type { Reader } from './config.js';

export interface SentinelAddress {
  host: string;
  port: number;
}

export interface RedisSentinelConfig {
  /** REDIS_SENTINELS, in the order given (ioredis asks them in turn). */
  sentinels: readonly SentinelAddress[];
  /** REDIS_SENTINEL_MASTER: the name in the sentinels' `sentinel monitor <name> …`. */
  masterName: string;
  /** REDIS_USERNAME / REDIS_PASSWORD: the data servers' ACL user and password (never log). */
  username: string | undefined;
  password: string | undefined;
  /** REDIS_SENTINEL_PASSWORD: the sentinels' own `requirepass` (never log). */
  sentinelPassword: string | undefined;
}

export interface RedisConfig {
  /**
   * One server: the connection URL; credentials live here and must never be logged.
   * Sentinel: `redis-sentinel://<master>?sentinels=host:port,…` — a description for
   * messages, without credentials; connections go through `sentinel`.
   */
  url: string;
  db: number;
  /**
   * Set when REDIS_SENTINELS is: connect to the master the sentinels name. (Optional only
   * so a hand-built `{ url, db }` still type-checks; loadConfig always sets it.)
   */
  sentinel?: RedisSentinelConfig | null;
  /**
   * REDIS_MIN_REPLICAS_ACK: replicas that must have a write before it counts (SPEC §11):
   * the brain WAITs for them after issuing permits, before acking the plans; the gate after
   * consuming a permit, before the Apply Layer may execute. 0 = no WAIT. Absent = 0.
   */
  minReplicasAck?: number;
  /**
   * REDIS_REPLICA_WAIT_MS: the WAIT's timeout, ms (default 500). Fewer replicas by then =
   * not replicated: the brain leaves the plans pending, the gate refuses (`not_replicated`).
   */
  replicaWaitMs?: number;
}

const MASTER_NAME_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
const SENTINEL_RE = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+)):(\d{1,5})$/;
const MAX_REPLICAS_ACK = 16;
/** WAIT's timeout: 0 would block for ever, so 1 ms is the least. */
export const DEFAULT_REPLICA_WAIT_MS = 500;
const MAX_REPLICA_WAIT_MS = 10_000;

export function readRedisConfig(read: Reader): RedisConfig {
  const urlGiven = read.optional('REDIS_URL') !== undefined;
  const url = read.url('REDIS_URL', ['redis:', 'rediss:']);
  const host = read.string('REDIS_HOST', 'localhost');
  const port = read.port('REDIS_PORT', 6379);
  const db = read.integer('REDIS_DB', 0, 0, 15);
  const username = read.optional('REDIS_USERNAME');
  const password = read.optional('REDIS_PASSWORD');
  const sentinels = sentinelList(read);
  const masterName = read.optional('REDIS_SENTINEL_MASTER');
  const sentinelPassword = read.optional('REDIS_SENTINEL_PASSWORD');
  const minReplicasAck = read.integer('REDIS_MIN_REPLICAS_ACK', 0, 0, MAX_REPLICAS_ACK);
  const replicaWaitMs = read.integer(
    'REDIS_REPLICA_WAIT_MS',
    DEFAULT_REPLICA_WAIT_MS,
    1,
    MAX_REPLICA_WAIT_MS,
  );

  for (const [name, value] of [
    ['REDIS_USERNAME', username],
    ['REDIS_PASSWORD', password],
  ] as const) {
    if (urlGiven && value !== undefined) {
      read.problems.push(
        `${name}: not together with REDIS_URL — put the credentials in REDIS_URL ` +
          `(redis://user:password@host:port) or leave REDIS_URL empty`,
      );
    }
  }
  if (username !== undefined && password === undefined) {
    read.problems.push('REDIS_USERNAME: needs REDIS_PASSWORD (an ACL user logs in with both)');
  }

  if (sentinels === undefined) {
    for (const [name, value] of [
      ['REDIS_SENTINEL_MASTER', masterName],
      ['REDIS_SENTINEL_PASSWORD', sentinelPassword],
    ] as const) {
      if (value !== undefined) {
        read.problems.push(
          `${name}: only with REDIS_SENTINELS — set REDIS_SENTINELS=host:port,… or leave ${name} empty`,
        );
      }
    }
    return {
      url: url ?? serverUrl(host, port, username, password),
      db,
      sentinel: null,
      minReplicasAck,
      replicaWaitMs,
    };
  }

  if (urlGiven) {
    read.problems.push(
      'REDIS_URL and REDIS_SENTINELS: set one of them — REDIS_URL names one server, ' +
        'REDIS_SENTINELS asks the sentinels for the master (credentials: REDIS_USERNAME/REDIS_PASSWORD)',
    );
  }
  if (masterName === undefined) {
    read.problems.push(
      `REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS (the <name> of the sentinels' ` +
        `"sentinel monitor <name> …")`,
    );
  } else if (!MASTER_NAME_RE.test(masterName)) {
    read.problems.push(
      `REDIS_SENTINEL_MASTER=${JSON.stringify(masterName)}: expected letters, digits, _ . : - (1 to 64)`,
    );
  }
  const name = masterName ?? '';
  return {
    url: `redis-sentinel://${name}?sentinels=${sentinels.map(addressText).join(',')}`,
    db,
    sentinel: { sentinels, masterName: name, username, password, sentinelPassword },
    minReplicasAck,
    replicaWaitMs,
  };
}

/** REDIS_SENTINELS as addresses (the well-formed ones; each bad entry is named), or undefined when unset. */
function sentinelList(read: Reader): SentinelAddress[] | undefined {
  const raw = read.optional('REDIS_SENTINELS');
  if (raw === undefined) return undefined;
  const addresses: SentinelAddress[] = [];
  const bad: string[] = [];
  for (const entry of raw.split(',').map((s) => s.trim())) {
    const match = SENTINEL_RE.exec(entry);
    const port = Number(match?.[3]);
    if (match === null || port < 1 || port > 65535) bad.push(entry === '' ? '(empty)' : entry);
    else addresses.push({ host: match[1] ?? match[2] ?? '', port });
  }
  if (bad.length > 0) {
    read.problems.push(
      `REDIS_SENTINELS=${JSON.stringify(raw)}: expected a comma-separated list of host:port ` +
        `(IPv6 as [address]:port), e.g. 10.0.0.1:26379,10.0.0.2:26379 (invalid: ${bad.join(', ')})`,
    );
  }
  return addresses;
}

function addressText({ host, port }: SentinelAddress): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function serverUrl(
  host: string,
  port: number,
  username: string | undefined,
  password: string | undefined,
): string {
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const auth =
    password === undefined
      ? ''
      : `${encodeURIComponent(username ?? '')}:${encodeURIComponent(password)}@`;
  return `redis://${auth}${hostPart}:${port}`;
}
