/**
 * The Apply Layer stub's `apply.result` write when posguard runs with
 * REDIS_MIN_REPLICAS_ACK = N ≥ 1 (SPEC §11): an executed order's result is written once, and
 * it is done only when N replicas have it. A failover can otherwise lose the entry, and the
 * ledger would miss a fill the exchange made (docs/operations.md, "What a failover can
 * lose": the brain's fill is not waited for, but its entry must exist to be applied).
 *
 * - XADD, then `WAIT N replicaWaitMs` on the same connection. At least N replicas, and the
 *   connection not re-established in between: done.
 * - Otherwise the entry may or may not be on the master that wins. Ask the current master:
 *   an entry of this order (same symbol and order id, parsed with the brain's own parser) is
 *   there → one small write (a marker under the run's own key) and `WAIT` again: that write
 *   is replicated only after everything before it, the entry included. Not there → XADD it
 *   again. Repeat until confirmed (bounded: `giveUpMs`).
 *
 * One replica (the Sentinel pair): an entry WAIT did not confirm is on the replica or not;
 * after a failover the replica is the master, so "look, then write only if absent" writes it
 * exactly once. With more replicas than N, Sentinel may promote one that lacks it, and then
 * "absent" is right too. The entry found is never duplicated.
 */
import type { Redis } from 'ioredis';
import { fieldsToRecord, parseApplyResult } from '../../domain/apply-result.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { toStreamArgs } from './result-shapes.js';

export interface ReplicatedWriteOptions {
  redis: Redis;
  stream: string;
  /** A key of the run's own (a marker string, short TTL) for the confirming write. */
  syncKey: string;
  minReplicasAck: number;
  replicaWaitMs: number;
  logger: Logger;
  /** Stop trying after this long (the result is then reported unconfirmed). Default 60 s. */
  giveUpMs?: number;
  /** How far back to look for the entry (entries). Default 5000. */
  lookBack?: number;
}

export interface ResultIdentity {
  symbol: string;
  orderId: string;
}

export interface ReplicatedWrite {
  /** The id of the entry N replicas have; null when it gave up. */
  entryId: string | null;
  /** XADDs sent (1 normally; more after a failover lost one). */
  writes: number;
  /** Rounds that found the entry already on the master and only confirmed it. */
  confirmedExisting: number;
}

const RETRY_MS = 150;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The id of an entry in the stream's last `lookBack` that records this order, else null. */
async function findEntry(
  redis: Redis,
  stream: string,
  who: ResultIdentity,
  lookBack: number,
): Promise<string | null> {
  const reply = (await redis.xrevrange(stream, '+', '-', 'COUNT', lookBack)) as [
    string,
    string[],
  ][];
  for (const [id, flat] of reply) {
    const parsed = parseApplyResult(id, fieldsToRecord(flat));
    if (
      parsed.kind === 'fill' &&
      parsed.fill.symbol === who.symbol &&
      parsed.fill.orderId === who.orderId
    ) {
      return id;
    }
  }
  return null;
}

/** `WAIT` on the connection that made the last write: true when N replicas have it. */
async function replicated(redis: Redis, o: ReplicatedWriteOptions, connection: unknown) {
  const replicas = await redis.wait(o.minReplicasAck, o.replicaWaitMs);
  return redis.stream === connection && replicas >= o.minReplicasAck;
}

export async function writeResultReplicated(
  o: ReplicatedWriteOptions,
  fields: Record<string, string>,
  who: ResultIdentity,
): Promise<ReplicatedWrite> {
  const { redis } = o;
  const deadline = Date.now() + (o.giveUpMs ?? 60_000);
  const out: ReplicatedWrite = { entryId: null, writes: 0, confirmedExisting: 0 };
  let failing = false;
  let first = true;
  while (Date.now() < deadline) {
    try {
      const connection = redis.stream;
      let id: string | null = null;
      if (!first) id = await findEntry(redis, o.stream, who, o.lookBack ?? 5000);
      if (id === null) {
        id = await redis.xadd(o.stream, '*', ...toStreamArgs(fields));
        out.writes += 1;
      } else {
        await redis.set(o.syncKey, id, 'PX', 60_000);
        out.confirmedExisting += 1;
      }
      first = false;
      if (id !== null && (await replicated(redis, o, connection))) {
        out.entryId = id;
        if (failing) o.logger.info({ ...who, entryId: id }, 'apply stub: result replicated');
        return out;
      }
    } catch (error) {
      // The XADD may have landed before the error: look for it next round, never re-add blind.
      first = false;
      if (!failing) {
        o.logger.warn(
          { ...who, err: errorMessage(error) },
          'apply stub: result write not confirmed yet; retrying',
        );
      }
    }
    failing = true;
    await sleep(RETRY_MS);
  }
  o.logger.error(
    { ...who, writes: out.writes },
    'apply stub: result not confirmed by the replicas; gave up (the ledger may miss this fill)',
  );
  return out;
}
