/**
 * What every test/ha-process file runs on: two brains and two engines of the built CLI
 * (src/dev/ha-cluster.ts; HA_CLI names another build's dist/src/cli/main.js) against one
 * private redis-server, started before the file's tests and stopped after them, and the
 * file's last check: on SIGTERM every instance exits 0 and no lease is left.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect } from 'vitest';
import { HaCluster, type HaClusterOptions } from '../../src/dev/ha-cluster.js';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/dev/redis-server.js';
import type { Keys } from '../../src/redis/keys.js';

export interface ClusterPerFile {
  /** The running cluster (from the file's first test on; not after `stopsCleanly`). */
  cluster(): HaCluster;
  /** A connection of the test's own to the server. */
  redis(): Redis;
  /**
   * SIGTERM to every instance: asserts each exits 0 and neither role's lease is left.
   * Returns the cluster's keys for the file's own further checks.
   */
  stopsCleanly(): Promise<Keys>;
}

/** Registers the file's beforeAll/afterAll (its own hooks registered after run inside them). */
export function clusterPerFile(
  options: Omit<HaClusterOptions, 'brains' | 'engines' | 'redis' | 'cli'>,
): ClusterPerFile {
  let server: EmbeddedRedis | undefined;
  let cluster: HaCluster | undefined;
  let redis: Redis | undefined;

  beforeAll(async () => {
    server = await startEmbeddedRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    cluster = await HaCluster.start({
      brains: 2,
      engines: 2,
      redis: { url: server.url },
      ...(process.env.HA_CLI === undefined ? {} : { cli: process.env.HA_CLI }),
      ...options,
    });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop().catch(() => undefined);
    redis?.disconnect();
    await server?.stop();
  });

  const running = (): HaCluster => {
    if (cluster === undefined) throw new Error('the HA cluster is not running');
    return cluster;
  };
  return {
    cluster: running,
    redis: () => {
      if (redis === undefined) throw new Error('no redis-server started');
      return redis;
    },
    stopsCleanly: async () => {
      const c = running();
      cluster = undefined;
      const exits = await c.stop();
      expect(exits.map((e) => [e.id, e.code, e.signal])).toEqual(exits.map((e) => [e.id, 0, null]));
      expect(
        await (redis as Redis).exists(c.keys.lease('reconcile'), c.keys.lease('brain-poller')),
      ).toBe(0);
      return c.keys;
    },
  };
}
