/**
 * The config files of the Sentinel test set-up (redis-sentinel.ts): a data node (master or
 * replica) and a sentinel, one directive per line as redis.conf reads them.
 */
import { LOCALHOST } from './redis-process.js';

export interface SentinelTimings {
  /** `sentinel down-after-milliseconds` (default 1000). */
  downAfterMs?: number;
  /** `sentinel failover-timeout` (default 2000). */
  failoverTimeoutMs?: number;
}

/** A config value quoted the way redis.conf reads it. */
function quoted(value: string): string {
  return JSON.stringify(value);
}

export function dataNodeConfig(port: number, dir: string, password: string | undefined): string[] {
  return [
    `port ${port}`,
    `bind ${LOCALHOST}`,
    `dir ${quoted(dir)}`,
    `dbfilename node-${port}.rdb`,
    'daemonize no',
    'save ""',
    'appendonly no',
    'loglevel notice',
    // a replica (re)syncs at once after a failover instead of after the default 5 s
    'repl-diskless-sync yes',
    'repl-diskless-sync-delay 0',
    ...(password === undefined
      ? []
      : [`requirepass ${quoted(password)}`, `masterauth ${quoted(password)}`]),
  ];
}

export function sentinelConfig(
  port: number,
  dir: string,
  name: string,
  masterPort: number,
  options: SentinelTimings & {
    password?: string | undefined;
    sentinelPassword?: string | undefined;
  },
): string[] {
  return [
    `port ${port}`,
    `bind ${LOCALHOST}`,
    `dir ${quoted(dir)}`,
    'daemonize no',
    'loglevel notice',
    `sentinel monitor ${name} ${LOCALHOST} ${masterPort} 2`,
    `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
    `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 2000}`,
    `sentinel parallel-syncs ${name} 1`,
    ...(options.password === undefined
      ? []
      : [`sentinel auth-pass ${name} ${quoted(options.password)}`]),
    ...(options.sentinelPassword === undefined
      ? []
      : [`requirepass ${quoted(options.sentinelPassword)}`]),
  ];
}
