/**
 * Typed wrapper of `brain_apply_fill.lua`: pure argument encoding and reply decoding.
 */
import type { Redis } from 'ioredis';
import { PosguardError } from '../errors.js';
import type { Keys } from '../redis/keys.js';
import { LuaScript, type LuaArg } from '../redis/lua-script.js';

export const applyFillScript = LuaScript.load('brain_apply_fill');

export type ApplyFillReply = 'applied' | 'duplicate' | 'conflict';

export interface ApplyFillCall {
  symbol: string;
  entryId: string;
  /** The raw `version` field as read ('' when absent). */
  expectedVersion: string;
  /** Ledger fields to write; `last_result_id` is set by the script itself. */
  fields: Record<string, string>;
}

export interface ApplyFillSettings {
  group: string;
  ledgerTtlMs: number;
  markerTtlMs: number;
}

export function applyFillArgs(
  keys: Keys,
  call: ApplyFillCall,
  settings: ApplyFillSettings,
): { keys: string[]; args: LuaArg[] } {
  const pairs: string[] = [];
  for (const [field, value] of Object.entries(call.fields)) {
    if (field !== 'last_result_id') pairs.push(field, value);
  }
  return {
    keys: [keys.ledger(call.symbol), keys.resultApplied(call.entryId), keys.applyResultStream],
    args: [
      settings.group,
      call.entryId,
      call.expectedVersion,
      Math.max(1, Math.round(settings.ledgerTtlMs)),
      Math.max(1, Math.round(settings.markerTtlMs)),
      ...pairs,
    ],
  };
}

export function decodeApplyFillReply(reply: unknown): ApplyFillReply | null {
  return reply === 'applied' || reply === 'duplicate' || reply === 'conflict' ? reply : null;
}

export async function runApplyFill(
  redis: Redis,
  keys: Keys,
  call: ApplyFillCall,
  settings: ApplyFillSettings,
): Promise<ApplyFillReply> {
  const { keys: scriptKeys, args } = applyFillArgs(keys, call, settings);
  const reply = decodeApplyFillReply(await applyFillScript.run(redis, scriptKeys, args));
  if (reply === null)
    throw new PosguardError('SCRIPT_REPLY_INVALID', 'brain_apply_fill returned an unknown reply');
  return reply;
}
