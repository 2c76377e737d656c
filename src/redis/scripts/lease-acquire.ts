/**
 * `lease_acquire.lua`: takes a role's lease (`SET NX PX`) and raises its epoch and fence
 * in one step (SPEC §11). The new epoch is max(epoch, fence, the server's TIME in ms) + 1,
 * so epochs keep growing when a failover or a restart without persistence lost both keys
 * (LESSONS #24; the Lua header says what that rests on). Epochs are integers of at most 14
 * digits (13 today).
 */
import { isInstanceId, type LeaderRole } from '../../domain/leadership.js';
import { PosguardError } from '../../errors.js';
import type { Keys } from '../keys.js';
import { decodeWrongType, type WrongTypeResult } from './fencing.js';
import { type ScriptReply, type ScriptSpec, unknownStatus } from './script.js';

export interface LeaseAcquireArgs {
  keys: Keys;
  role: LeaderRole;
  instanceId: string;
  leaseMs: number;
}

export type LeaseAcquireResult =
  | { status: 'acquired'; epoch: number }
  /** `ttl_ms` −1: the lease has no expiry (someone wrote it by hand) and blocks the role. */
  | { status: 'held'; holder: string; ttl_ms: number }
  | WrongTypeResult;

/** The instance id for an ARGV object (it is also the lease's value). */
export function instanceArg(spec: { name: string }, id: string): string {
  if (!isInstanceId(id)) {
    throw new PosguardError(
      'USAGE',
      `${spec.name}: invalid instance id ${JSON.stringify(id)}: expected ^[A-Za-z0-9:_.-]{1,128}$`,
    );
  }
  return id;
}

/** A lease length for `PX`: a positive integer, or a bug in the caller. */
export function leaseMsArg(spec: { name: string }, ms: number): number {
  if (!Number.isSafeInteger(ms) || ms < 1) {
    throw new PosguardError(
      'USAGE',
      `${spec.name}: lease length ${ms} ms is not a positive integer`,
    );
  }
  return ms;
}

export const leaseAcquire: ScriptSpec<LeaseAcquireArgs, LeaseAcquireResult> = {
  name: 'lease_acquire',
  version: 2,
  keyCount: 3,
  encode: (a) => ({
    keys: [a.keys.lease(a.role), a.keys.epoch(a.role), a.keys.fence(a.role)],
    argv: {
      instance: instanceArg(leaseAcquire, a.instanceId),
      lease_ms: leaseMsArg(leaseAcquire, a.leaseMs),
    },
  }),
  decode: (reply: ScriptReply) => {
    const { status } = reply;
    if (status === 'acquired' && typeof reply.epoch === 'number' && isPositiveInt(reply.epoch))
      return { status, epoch: reply.epoch };
    if (
      status === 'held' &&
      typeof reply.holder === 'string' &&
      typeof reply.ttl_ms === 'number' &&
      Number.isSafeInteger(reply.ttl_ms) &&
      reply.ttl_ms >= -1
    )
      return { status, holder: reply.holder, ttl_ms: reply.ttl_ms };
    return decodeWrongType(leaseAcquire, reply) ?? unknownStatus(leaseAcquire, reply);
  },
};

function isPositiveInt(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 1;
}
