/**
 * The test-only write script `fixtures/fenced_write.lua` as a spec: what every write script
 * of a leader role looks like (fence key in KEYS, `epoch` in ARGV, `decodeFenced` first).
 * Run with EVAL — it is not in src/redis/lua/, so the script layer does not load it.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { LeaderRole } from '../../src/domain/leadership.js';
import type { Keys } from '../../src/redis/keys.js';
import {
  decodeFenced,
  decodeWrongType,
  epochArg,
  type FencedResult,
  type WrongTypeResult,
} from '../../src/redis/scripts/fencing.js';
import {
  commandArgs,
  decodeReply,
  type ScriptSpec,
  unknownStatus,
} from '../../src/redis/scripts/script.js';

export interface FencedWriteArgs {
  keys: Keys;
  role: LeaderRole;
  epoch: number;
  writer: string;
  value: string;
}

export type FencedWriteResult =
  { status: 'written'; fence: number } | FencedResult | WrongTypeResult;

/** The three keys the fixture writes (under the test's prefix). */
export function fixtureKeys(keys: Keys): { value: string; counts: string; log: string } {
  const base = `${keys.prefix}:fixture`;
  return { value: `${base}:value`, counts: `${base}:counts`, log: `${base}:log` };
}

export const fencedWrite: ScriptSpec<FencedWriteArgs, FencedWriteResult> = {
  name: 'fenced_write',
  version: 1,
  keyCount: 4,
  encode: (a) => {
    const k = fixtureKeys(a.keys);
    return {
      keys: [k.value, k.counts, k.log, a.keys.fence(a.role)],
      argv: { epoch: epochArg(fencedWrite, a.epoch), writer: a.writer, value: a.value },
    };
  },
  decode: (reply) => {
    if (reply.status === 'written' && typeof reply.fence === 'number')
      return { status: 'written', fence: reply.fence };
    return (
      decodeFenced(fencedWrite, reply) ??
      decodeWrongType(fencedWrite, reply) ??
      unknownStatus(fencedWrite, reply)
    );
  },
};

export const FENCED_WRITE_LUA = readFileSync(
  new URL('./fixtures/fenced_write.lua', import.meta.url),
  'utf8',
);

export async function runFencedWrite(
  redis: Redis,
  args: FencedWriteArgs,
): Promise<FencedWriteResult> {
  const call = fencedWrite.encode(args);
  const argv = commandArgs(fencedWrite, call) as string[];
  const reply = await redis.eval(FENCED_WRITE_LUA, fencedWrite.keyCount as number, ...argv);
  return decodeReply(fencedWrite, reply);
}
