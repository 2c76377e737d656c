/**
 * The Apply Layer stub's result write at REDIS_MIN_REPLICAS_ACK = 1
 * (src/dev/pipeline/replicated-result.ts), against a real master and replica (the Sentinel
 * set-up; the replica held back with SIGSTOP). A result is done only once the replica has
 * it; until then the writer looks on the master and re-adds the entry only when it is not
 * there — so an entry is never written twice, and one a failover lost is written again.
 * Waits poll with generous deadlines; timing is never asserted.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type RedisConfig } from '../../src/config/config.js';
import { Decimal } from '../../src/domain/amount.js';
import { fieldsToRecord, parseApplyResult } from '../../src/domain/apply-result.js';
import { writeResultReplicated } from '../../src/dev/pipeline/replicated-result.js';
import { encodeExecutedResult } from '../../src/dev/pipeline/result-shapes.js';
import { type SentinelSetup, startSentinelSetup } from '../../src/dev/redis-sentinel.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createRedis, waitForReady } from '../../src/redis/connection.js';
import { uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

let setup: SentinelSetup | undefined;
let config: RedisConfig;
const clients: Redis[] = [];

beforeAll(async () => {
  setup = await startSentinelSetup({ masterName: 'posguard-result' });
  config = loadConfig({
    REDIS_SENTINELS: setup.sentinelList,
    REDIS_SENTINEL_MASTER: 'posguard-result',
  }).redis;
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await setup?.stop();
}, 60_000);

async function viaSentinel(): Promise<Redis> {
  const redis = createRedis(config, { name: 'apply-stub' });
  redis.on('error', () => undefined);
  clients.push(redis);
  await waitForReady(redis);
  return redis;
}

function result(orderId: string): Record<string, string> {
  return encodeExecutedResult(
    {
      planId: `plan-${orderId}`,
      symbol: 'BTCUSDT',
      orderId,
      side: 'SELL',
      executedQty: new Decimal('0.01'),
      reduceOnly: true,
      timeMs: Date.now(),
    },
    'flat',
  );
}

/** Entries of the stream recording `orderId`. */
async function entriesOf(redis: Redis, stream: string, orderId: string): Promise<string[]> {
  const all = (await redis.xrange(stream, '-', '+')) as [string, string[]][];
  return all
    .filter(([id, flat]) => {
      const parsed = parseApplyResult(id, fieldsToRecord(flat));
      return parsed.kind === 'fill' && parsed.fill.orderId === orderId;
    })
    .map(([id]) => id);
}

interface HeldWrite {
  redis: Redis;
  stream: string;
  /** The result write of the order, started while the replica was held (SIGSTOP). */
  writing: ReturnType<typeof writeResultReplicated>;
  /** SIGCONT of the replica (done after `body` at the latest). */
  resume: () => void;
}

/** Starts writing `orderId`'s result at N = 1 with the replica held back, and runs `body`. */
async function withReplicaHeld(
  orderId: string,
  body: (held: HeldWrite) => Promise<void>,
): Promise<void> {
  const s = setup as SentinelSetup;
  const redis = await viaSentinel();
  const stream = `${uniquePrefix('result')}:stream:apply.result`;
  const replica = s.dataNodes[1] as SentinelSetup['dataNodes'][number];
  s.pause(replica);
  let resumed = false;
  const resume = (): void => {
    if (resumed) return;
    resumed = true;
    s.resume(replica);
  };
  try {
    const writing = writeResultReplicated(
      {
        redis,
        stream,
        syncKey: `${stream}:sync`,
        minReplicasAck: 1,
        replicaWaitMs: 100,
        logger: silentLogger(),
      },
      result(orderId),
      { symbol: 'BTCUSDT', orderId },
    );
    await body({ redis, stream, writing, resume });
  } finally {
    resume();
  }
}

describe('the Apply Layer stub writes its result once a replica has it (N = 1)', () => {
  it('a result the replica has not confirmed yet is confirmed, not written again', async () => {
    await withReplicaHeld('501', async ({ redis, stream, writing, resume }) => {
      // The entry is on the master; the writer keeps asking the replica (several rounds).
      await waitFor(async () => (await entriesOf(redis, stream, '501')).length === 1);
      const waits = async (): Promise<number> =>
        Number(/cmdstat_wait:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
      const before = await waits();
      await waitFor(async () => (await waits()) >= before + 3);
      resume();
      const write = await writing;
      expect(write.entryId).not.toBeNull();
      expect(write.writes).toBe(1);
      expect(write.confirmedExisting).toBeGreaterThan(0);
      expect(await entriesOf(redis, stream, '501')).toEqual([write.entryId]);
    });
  }, 60_000);

  it('a result the master no longer has (lost in a failover) is written again, once', async () => {
    await withReplicaHeld('502', async ({ redis, stream, writing, resume }) => {
      const [first] = await waitFor(async () => {
        const ids = await entriesOf(redis, stream, '502');
        return ids.length === 1 ? ids : null;
      });
      // What a failover to a replica that never got the entry looks like to the writer.
      await redis.xdel(stream, first as string);
      await waitFor(async () => (await entriesOf(redis, stream, '502')).length === 1);
      resume();
      const write = await writing;
      expect(write.writes).toBe(2);
      expect(write.entryId).not.toBe(first);
      expect(await entriesOf(redis, stream, '502')).toEqual([write.entryId]);
    });
  }, 60_000);
});
