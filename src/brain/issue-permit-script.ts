/**
 * Typed wrapper of `brain_issue_permit.lua`: pure argument encoding and reply decoding
 * around one pipelined EVALSHA per plan.
 */
import type { ChainableCommander } from 'ioredis';
import type { Keys } from '../redis/keys.js';
import { LuaScript, type LuaArg } from '../redis/lua-script.js';

export const issuePermitScript = LuaScript.load('brain_issue_permit');

/** A key of the wrong type: nothing written, not even the ack (the caller acks and counts). */
export interface IssueWrongType {
  wrongType: string;
  /** The type the key holds. */
  found: string;
}

export type IssueReply = 'issued' | 'duplicate' | IssueWrongType;

export interface IssueCall {
  planId: string;
  entryId: string;
  permitJson: string;
  /** What the marker records, e.g. `allow` or `deny:stale_exchange_state`. */
  outcome: string;
}

export interface IssueSettings {
  group: string;
  permitTtlMs: number;
  planSeenTtlMs: number;
}

export function issuePermitCall(
  keys: Keys,
  call: IssueCall,
  settings: IssueSettings,
): { keys: string[]; args: LuaArg[] } {
  return {
    keys: [keys.planSeen(call.planId), keys.permitP33(call.planId), keys.applyPlanStream],
    args: [
      settings.group,
      call.entryId,
      call.permitJson,
      Math.max(1, Math.round(settings.permitTtlMs)),
      Math.max(1, Math.round(settings.planSeenTtlMs)),
      `${call.outcome} ${call.entryId}`,
    ],
  };
}

export function decodeIssueReply(reply: unknown): IssueReply | null {
  if (reply === 'issued' || reply === 'duplicate') return reply;
  if (Array.isArray(reply) && reply.length === 3 && reply[0] === 'wrong_type') {
    const [, key, found] = reply as unknown[];
    if (typeof key === 'string' && typeof found === 'string') return { wrongType: key, found };
  }
  return null;
}

export function queueIssuePermit(
  pipeline: ChainableCommander,
  keys: Keys,
  call: IssueCall,
  settings: IssueSettings,
): void {
  const { keys: scriptKeys, args } = issuePermitCall(keys, call, settings);
  issuePermitScript.queue(pipeline, scriptKeys, args);
}
