/**
 * The permit gate (SPEC §6): what the Apply Layer calls before it executes a plan.
 *
 * One Lua script (`gate_consume.lua`) checks the Governor permit and the P3.3 permit and
 * deletes both only when both pass, so a permit can never be used twice (LESSONS #4).
 * While the P3.3 permit is missing — and only then — the gate waits up to `waitMs`,
 * because the planner and the brain race (LESSONS #3). It never throws: an unreachable
 * or stalled Redis is `missing_permit_or_redis`, and the Apply Layer does not execute.
 *
 * With `minReplicasAck` N > 0 (REDIS_MIN_REPLICAS_ACK, SPEC §11) a consume counts only
 * once N replicas have it: the gate sends `WAIT N replicaWaitMs` on the same connection
 * after a `consumed` reply. A consume the next master could forget would leave the permit
 * unconsumed there, and a second consume would succeed — two orders for one plan. So
 * fewer than N replicas, an error, or a connection re-established between the consume and
 * the WAIT's reply (the WAIT then covered nothing) is `not_replicated`: the permit is
 * burned and the Apply Layer does not execute.
 */
import type { Redis } from 'ioredis';
import type { Clock } from '../domain/time.js';
import { isPlanId } from '../domain/identifiers.js';
import { errorMessage } from '../errors.js';
import type { Keys } from '../redis/keys.js';
import { type Scheduler, settleWithin, systemClock, systemScheduler } from '../runtime/clock.js';
import {
  type GateRefusalCode as ScriptRefusalCode,
  type GateReply,
  gateConsume,
} from '../redis/scripts/gate-consume.js';
import { DEFAULT_REPLICA_WAIT_MS } from '../config/redis-config.js';
import { runScript } from '../redis/scripts/script.js';
import { type AllowPermit, decodePermit } from '../domain/permit.js';
import { p33PermitPasses } from './permit-codec.js';
import { formatAmount } from '../domain/amount.js';

/** Same default as GATE_WAIT_MS. */
export const DEFAULT_GATE_WAIT_MS = 1200;
/** A single script call that takes longer than this is treated as Redis being unavailable. */
export const DEFAULT_CALL_TIMEOUT_MS = 2000;
const FIRST_BACKOFF_MS = 2;
const MAX_BACKOFF_MS = 50;

/**
 * The script's refusals (the seed's codes, SPEC §6), and `not_replicated`: both permits
 * were consumed, but fewer than REDIS_MIN_REPLICAS_ACK replicas confirmed it.
 */
export type GateRefusalCode = ScriptRefusalCode | 'not_replicated';

export type GateResult =
  | { ok: true; safeCloseQty: string; permit: AllowPermit }
  | {
      ok: false;
      code: GateRefusalCode;
      /** For missing_or_denied_p33_permit: missing | wrong_type | invalid | the deny reason. */
      p33Reason?: string;
      /** For governor_denied: not_granted | wrong_type | invalid. */
      governorReason?: string;
      /** Human detail, e.g. the Redis error; never used for branching. */
      detail?: string;
    };

/** The result for one script reply (no waiting). */
export function gateResultOf(reply: GateReply): GateResult {
  if (reply.status === 'consumed') {
    const read = decodePermit(reply.permitJson);
    // Whatever the script consumes, the brain's codec reads as an allow (a property test
    // holds them to it); this branch is the fail-closed backstop.
    if (read.kind !== 'allow' || !p33PermitPasses(read)) {
      return {
        ok: false,
        code: 'missing_or_denied_p33_permit',
        p33Reason: 'invalid',
        detail: 'permit consumed but its safe_close_qty is unreadable; do not execute',
      };
    }
    return { ok: true, safeCloseQty: formatAmount(read.permit.safeCloseQty), permit: read.permit };
  }
  if (reply.status === 'governor_denied') {
    return { ok: false, code: reply.status, governorReason: reply.reason };
  }
  if (reply.status === 'missing_or_denied_p33_permit') {
    return { ok: false, code: reply.status, p33Reason: reply.reason };
  }
  return { ok: false, code: reply.status };
}

export interface ConsumeOptions {
  /** How long to wait for a missing P3.3 permit (default 1200 ms, GATE_WAIT_MS). */
  waitMs?: number;
  clock?: Clock;
  /** The backoff sleeps and the call timeout (default: the system's timers). */
  scheduler?: Scheduler;
  callTimeoutMs?: number;
  /**
   * REDIS_MIN_REPLICAS_ACK — the same value the brain runs with: replicas that must have a
   * consume before the result is ok. Default 0: no WAIT.
   */
  minReplicasAck?: number;
  /** REDIS_REPLICA_WAIT_MS: the WAIT's timeout (default 500 ms). */
  replicaWaitMs?: number;
}

interface Replication {
  minReplicasAck: number;
  replicaWaitMs: number;
}

/** The script's reply, or an error when Redis has not answered within `ms`. */
async function withTimeout<T>(scheduler: Scheduler, promise: Promise<T>, ms: number): Promise<T> {
  const reply = await settleWithin(scheduler, promise, ms);
  if (!reply.settled) throw new Error(`no reply from Redis within ${ms} ms`);
  return reply.value;
}

async function attempt(
  redis: Redis,
  keys: Keys,
  planId: string,
  timeoutMs: number,
  scheduler: Scheduler,
  replication: Replication,
): Promise<GateResult> {
  let result: GateResult;
  try {
    const call = runScript(redis, gateConsume, { keys, planId });
    result = gateResultOf(await withTimeout(scheduler, call, timeoutMs));
  } catch (error) {
    return { ok: false, code: 'missing_permit_or_redis', detail: `redis: ${errorMessage(error)}` };
  }
  if (!result.ok || replication.minReplicasAck === 0) return result;
  const shortfall = await notReplicated(redis, replication, timeoutMs, scheduler);
  if (shortfall === null) return result;
  return {
    ok: false,
    code: 'not_replicated',
    detail:
      `both permits were consumed, but ${shortfall}: a failover could bring the permit back ` +
      `unconsumed, so this consume does not count; the permit is burned — do not execute`,
  };
}

/**
 * WAIT for the consume's replication on the connection that ran it. Null when at least
 * `minReplicasAck` replicas have it; otherwise why not. ioredis re-sends a command whose
 * reply was lost with its connection: a WAIT answered on another connection covered none
 * of the consume's writes, so it counts as not replicated.
 */
async function notReplicated(
  redis: Redis,
  { minReplicasAck, replicaWaitMs }: Replication,
  timeoutMs: number,
  scheduler: Scheduler,
): Promise<string | null> {
  const connection = redis.stream;
  try {
    const wait = redis.wait(minReplicasAck, replicaWaitMs);
    const replicas = await withTimeout(scheduler, wait, replicaWaitMs + timeoutMs);
    if (redis.stream !== connection) {
      return 'the connection to Redis was re-established before WAIT answered';
    }
    if (replicas < minReplicasAck) {
      return `WAIT saw ${replicas} of ${minReplicasAck} replicas within ${replicaWaitMs} ms`;
    }
    return null;
  } catch (error) {
    return `WAIT for ${minReplicasAck} replicas failed (${errorMessage(error)})`;
  }
}

function isMissingP33(result: GateResult): boolean {
  return (
    !result.ok && result.code === 'missing_or_denied_p33_permit' && result.p33Reason === 'missing'
  );
}

/**
 * Consumes both permits of `planId`, or neither. Resolves with a typed result; never rejects.
 */
export async function consumePermits(
  redis: Redis,
  keys: Keys,
  planId: string,
  options: ConsumeOptions = {},
): Promise<GateResult> {
  if (!isPlanId(planId)) {
    return {
      ok: false,
      code: 'missing_permit_or_redis',
      detail: `invalid plan id ${JSON.stringify(planId)}`,
    };
  }
  const clock = options.clock ?? systemClock;
  const scheduler = options.scheduler ?? systemScheduler;
  const waitMs = Math.max(0, options.waitMs ?? DEFAULT_GATE_WAIT_MS);
  const timeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const replication: Replication = {
    minReplicasAck: options.minReplicasAck ?? 0,
    replicaWaitMs: options.replicaWaitMs ?? DEFAULT_REPLICA_WAIT_MS,
  };
  const deadline = clock.nowMs() + waitMs;
  let backoff = FIRST_BACKOFF_MS;
  for (;;) {
    const result = await attempt(redis, keys, planId, timeoutMs, scheduler, replication);
    if (!isMissingP33(result)) return result;
    const remaining = deadline - clock.nowMs();
    if (remaining <= 0) return result;
    await scheduler.sleep(Math.min(backoff, remaining));
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }
}
