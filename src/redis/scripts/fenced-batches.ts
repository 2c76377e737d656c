/**
 * The batched, fenced write of the brain-poller role (snapshots, lot sizes): every write in
 * one pipeline of script calls of at most `batchSize` keys each, the role's fence as each
 * call's last key. One outcome per write, in order; or the `fenced` refusal — all calls
 * check the same fence, so they all refuse, unless a new leader's `lease_acquire` ran
 * between two calls, and then only the calls before it (still in this writer's term)
 * wrote. A wrong-typed fence key throws REDIS_WRONGTYPE (nobody can lead the role until it
 * is fixed).
 */
import type { Redis } from 'ioredis';
import { PosguardError } from '../../errors.js';
import {
  type FencedResult,
  type WrongTypeResult,
  decodeFenced,
  decodeWrongType,
} from './fencing.js';
import type { IndexedOutcomes } from './indexed-outcomes.js';
import {
  type ScriptReply,
  type ScriptSpec,
  queueScript,
  scriptPipeline,
  unknownStatus,
} from './script.js';

type Reply<O> = O[] | FencedResult | WrongTypeResult;

export async function runFencedBatches<W, A, O>(
  redis: Redis,
  spec: ScriptSpec<A, Reply<O>>,
  writes: readonly W[],
  batchSize: number,
  argsFor: (slice: readonly W[]) => A,
  /** What is not written when the fence key has the wrong type ("snapshot", "lot size"). */
  what: string,
): Promise<O[] | FencedResult> {
  const pipeline = scriptPipeline(redis, [spec]);
  const batches: { reply?: Reply<O>; error?: Error; size: number }[] = [];
  for (let at = 0; at < writes.length; at += batchSize) {
    const slice = writes.slice(at, at + batchSize);
    const batch: (typeof batches)[number] = { size: slice.length };
    batches.push(batch);
    queueScript(pipeline, spec, argsFor(slice), (e, r) => {
      if (e) batch.error = e;
      else batch.reply = r;
    });
  }
  if (batches.length === 0) return [];
  await pipeline.exec();
  for (const batch of batches) {
    const reply = batch.reply;
    if (reply !== undefined && !Array.isArray(reply) && reply.status === 'fenced') return reply;
  }
  const outcomes: O[] = [];
  for (const batch of batches) {
    if (batch.error !== undefined) throw batch.error;
    const reply = batch.reply;
    if (reply !== undefined && !Array.isArray(reply) && reply.status === 'wrong_type') {
      throw new PosguardError(
        'REDIS_WRONGTYPE',
        `${reply.key} holds a ${reply.found}, not the role's fence: no ${what} written (nobody can lead brain-poller until it is fixed)`,
      );
    }
    if (!Array.isArray(reply) || reply.length !== batch.size) {
      throw new PosguardError(
        'SCRIPT_REPLY_INVALID',
        `${spec.name} answered ${Array.isArray(reply) ? reply.length : 'no'} outcomes for ${batch.size} keys`,
      );
    }
    outcomes.push(...reply);
  }
  return outcomes;
}

/** The per-key outcome of a key of the wrong type (nothing written for it). */
export interface WrongTypeOutcome {
  kind: 'wrong_type';
  key: string;
  found: string;
}

/** Places a reply's `wrong_type` list (`[{i, key, found}, …]`); false when malformed. */
export function placeWrongType<T>(
  outcomes: IndexedOutcomes<T | WrongTypeOutcome>,
  wrongType: readonly unknown[],
): boolean {
  for (const entry of wrongType) {
    if (typeof entry !== 'object' || entry === null) return false;
    const { i, key, found } = entry as Record<string, unknown>;
    if (typeof key !== 'string' || typeof found !== 'string') return false;
    if (!outcomes.place(i, { kind: 'wrong_type', key, found })) return false;
  }
  return true;
}

/**
 * The decode of a fenced batch script: `fenced`, `wrong_type` (the fence key), or the `ok`
 * reply's per-key outcomes — which must account for every key once, else the reply is
 * malformed.
 */
export function decodeFencedBatch<O>(
  spec: { name: string },
  reply: ScriptReply,
  outcomesOf: (reply: ScriptReply) => O[] | null,
): O[] | FencedResult | WrongTypeResult {
  if (reply.status !== 'ok') {
    return decodeFenced(spec, reply) ?? decodeWrongType(spec, reply) ?? unknownStatus(spec, reply);
  }
  const outcomes = outcomesOf(reply);
  if (outcomes === null) {
    throw new PosguardError(
      'SCRIPT_REPLY_INVALID',
      `${spec.name}: the outcomes do not add up in ${JSON.stringify(reply).slice(0, 200)}`,
    );
  }
  return outcomes;
}
