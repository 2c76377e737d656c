/**
 * `brain_issue_permit.lua`: the one permit a plan id ever gets, its plan-seen marker and
 * the ack of its entry, in one step (SPEC §5). With `ack: false` (REDIS_MIN_REPLICAS_ACK
 * > 0, SPEC §11) the entry is left pending for the caller to ack after its WAIT.
 */
import type { Keys } from '../keys.js';
import {
  type ScriptReply,
  type ScriptSpec,
  unknownStatus,
  decodeWrongType,
  type WrongTypeResult,
} from './script.js';

export interface IssuePermitArgs {
  keys: Keys;
  planId: string;
  entryId: string;
  permitJson: string;
  /** What the marker records, e.g. `allow` or `deny:stale_exchange_state`. */
  outcome: string;
  group: string;
  permitTtlMs: number;
  planSeenTtlMs: number;
  /**
   * Default true: the script acks the entry. false: it does not (the caller acks after
   * WAIT), and a duplicate rewrites its marker unchanged so that WAIT covers it.
   */
  ack?: boolean;
}

export type IssuePermitResult =
  /** Marker and permit written; the entry acked unless `ack` was false. */
  | { status: 'issued' }
  /** Answered before: no permit written; the entry acked unless `ack` was false. */
  | { status: 'duplicate' }
  /** A key of the wrong type: nothing written, not even the ack (the caller acks and counts). */
  | WrongTypeResult;

export const brainIssuePermit: ScriptSpec<IssuePermitArgs, IssuePermitResult> = {
  name: 'brain_issue_permit',
  version: 3,
  keyCount: 3,
  encode: (a) => ({
    keys: [a.keys.planSeen(a.planId), a.keys.permitP33(a.planId), a.keys.applyPlanStream],
    argv: {
      group: a.group,
      entry_id: a.entryId,
      permit: a.permitJson,
      permit_ttl_ms: Math.max(1, Math.round(a.permitTtlMs)),
      seen_ttl_ms: Math.max(1, Math.round(a.planSeenTtlMs)),
      outcome: `${a.outcome} ${a.entryId}`,
      ...(a.ack === false ? { ack: false } : {}),
    },
  }),
  decode: (reply: ScriptReply) => {
    if (reply.status === 'issued' || reply.status === 'duplicate') return { status: reply.status };
    const wrongType = decodeWrongType(brainIssuePermit, reply);
    if (wrongType) return wrongType;
    return unknownStatus(brainIssuePermit, reply);
  },
};
