/**
 * The brain's Redis connections: blocking readers never share a connection with writers,
 * and the exchange side never shares one with permits. One connection reports an outage
 * (once) and its end; the others only carry a listener so ioredis stays quiet.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import { createRedis } from '../redis/connection.js';

export const CONNECTIONS = ['evaluator', 'planReader', 'ledger', 'resultReader', 'poller'] as const;
export type Connections = Record<(typeof CONNECTIONS)[number], Redis>;

export function connections(config: Readonly<Config>, logger: Logger): Connections {
  const names = CONNECTIONS;
  const conns = Object.fromEntries(
    names.map((n) => [n, createRedis(config.redis, { name: `posguard-brain-${n}` })]),
  ) as Connections;
  let down = false;
  conns.evaluator.on('error', (error: Error) => {
    if (!down)
      logger.error(
        { err: error.message },
        'redis unreachable; retrying (permits wait, snapshots age)',
      );
    down = true;
  });
  conns.evaluator.on('ready', () => {
    if (down) logger.info('redis reachable again');
    down = false;
  });
  for (const n of names) if (n !== 'evaluator') conns[n].on('error', () => undefined);
  return conns;
}
