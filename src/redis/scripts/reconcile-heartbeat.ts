/**
 * `reconcile_heartbeat.lua`: the reconcile leader's heartbeat (SPEC §1, §11) — `SET
 * P:reconcile:heartbeat <json> PX ttl`, fenced: the `reconcile` fence in KEYS[2], the
 * writer's epoch in ARGV. The JSON is encoded by src/domain/reconcile-heartbeat.ts.
 */
import { PosguardError } from '../../errors.js';
import type { Keys } from '../keys.js';
import {
  decodeFenced,
  decodeWrongType,
  epochArg,
  type FencedResult,
  type WrongTypeResult,
} from './fencing.js';
import { type ScriptSpec, unknownStatus } from './script.js';

export interface HeartbeatWriteArgs {
  keys: Keys;
  /** The writer's epoch (SPEC §11), taken from its term at write time. */
  epoch: number;
  /** The heartbeat JSON (`encodeHeartbeat`). */
  value: string;
  ttlMs: number;
}

export type HeartbeatWriteResult = { status: 'written' } | FencedResult | WrongTypeResult;

export const reconcileHeartbeat: ScriptSpec<HeartbeatWriteArgs, HeartbeatWriteResult> = {
  name: 'reconcile_heartbeat',
  version: 1,
  keyCount: 2,
  encode: (a) => {
    if (!Number.isFinite(a.ttlMs) || a.ttlMs <= 0) {
      throw new PosguardError(
        'USAGE',
        `reconcile_heartbeat: TTL ${a.ttlMs} ms is not a positive number`,
      );
    }
    return {
      keys: [a.keys.reconcileHeartbeat, a.keys.fence('reconcile')],
      argv: {
        epoch: epochArg(reconcileHeartbeat, a.epoch),
        value: a.value,
        ttl_ms: Math.max(1, Math.round(a.ttlMs)),
      },
    };
  },
  decode: (reply) => {
    if (reply.status === 'written') return { status: 'written' };
    return (
      decodeFenced(reconcileHeartbeat, reply) ??
      decodeWrongType(reconcileHeartbeat, reply) ??
      unknownStatus(reconcileHeartbeat, reply)
    );
  },
};
