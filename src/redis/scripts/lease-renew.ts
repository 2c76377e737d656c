/**
 * `lease_renew.lua`: compare-and-renew — extends the lease only while it names this
 * instance and the fence equals this instance's epoch (SPEC §11).
 */
import type { LeaderRole } from '../../domain/leadership.js';
import type { Keys } from '../keys.js';
import {
  decodeFenced,
  decodeWrongType,
  epochArg,
  type FencedResult,
  type WrongTypeResult,
} from './fencing.js';
import { instanceArg, leaseMsArg } from './lease-acquire.js';
import { type ScriptReply, type ScriptSpec, unknownStatus } from './script.js';

export interface LeaseRenewArgs {
  keys: Keys;
  role: LeaderRole;
  instanceId: string;
  epoch: number;
  leaseMs: number;
}

/** What `lease_renew` and `lease_release` say when the lease is not (or no longer) ours. */
export interface NotOursReply {
  /** The lease's value, null when it is gone. */
  holder: string | null;
  fence: number;
}

export type LeaseRenewResult =
  { status: 'renewed' } | FencedResult | ({ status: 'lost' } & NotOursReply) | WrongTypeResult;

/** holder + fence of a `lost`/`not_holder` reply, or null when malformed. */
export function notOurs(reply: ScriptReply): NotOursReply | null {
  const { holder, fence } = reply;
  if (holder !== null && typeof holder !== 'string') return null;
  if (typeof fence !== 'number' || !Number.isSafeInteger(fence) || fence < 0) return null;
  return { holder, fence };
}

export const leaseRenew: ScriptSpec<LeaseRenewArgs, LeaseRenewResult> = {
  name: 'lease_renew',
  version: 1,
  keyCount: 2,
  encode: (a) => ({
    keys: [a.keys.lease(a.role), a.keys.fence(a.role)],
    argv: {
      instance: instanceArg(leaseRenew, a.instanceId),
      epoch: epochArg(leaseRenew, a.epoch),
      lease_ms: leaseMsArg(leaseRenew, a.leaseMs),
    },
  }),
  decode: (reply: ScriptReply) => {
    if (reply.status === 'renewed') return { status: 'renewed' };
    if (reply.status === 'lost') {
      const lost = notOurs(reply);
      if (lost !== null) return { status: 'lost', ...lost };
    }
    return (
      decodeFenced(leaseRenew, reply) ??
      decodeWrongType(leaseRenew, reply) ??
      unknownStatus(leaseRenew, reply)
    );
  },
};
