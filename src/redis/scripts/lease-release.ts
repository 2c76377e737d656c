/**
 * `lease_release.lua`: deletes the lease on a graceful stop, only while it names this
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
import { instanceArg } from './lease-acquire.js';
import { notOurs, type NotOursReply } from './lease-renew.js';
import { type ScriptReply, type ScriptSpec, unknownStatus } from './script.js';

export interface LeaseReleaseArgs {
  keys: Keys;
  role: LeaderRole;
  instanceId: string;
  epoch: number;
}

export type LeaseReleaseResult =
  | { status: 'released' }
  | FencedResult
  | ({ status: 'not_holder' } & NotOursReply)
  | WrongTypeResult;

export const leaseRelease: ScriptSpec<LeaseReleaseArgs, LeaseReleaseResult> = {
  name: 'lease_release',
  version: 1,
  keyCount: 2,
  encode: (a) => ({
    keys: [a.keys.lease(a.role), a.keys.fence(a.role)],
    argv: {
      instance: instanceArg(leaseRelease, a.instanceId),
      epoch: epochArg(leaseRelease, a.epoch),
    },
  }),
  decode: (reply: ScriptReply) => {
    if (reply.status === 'released') return { status: 'released' };
    if (reply.status === 'not_holder') {
      const other = notOurs(reply);
      if (other !== null) return { status: 'not_holder', ...other };
    }
    return (
      decodeFenced(leaseRelease, reply) ??
      decodeWrongType(leaseRelease, reply) ??
      unknownStatus(leaseRelease, reply)
    );
  },
};
