/**
 * Typed wrapper of `brain_apply_fill.lua`: pure argument encoding and reply decoding.
 */
import type { Redis } from 'ioredis';
import { PosguardError } from '../errors.js';
import { type Keys, isKeySafeOrderId } from '../redis/keys.js';
import { LuaScript, type LuaArg } from '../redis/lua-script.js';

export const applyFillScript = LuaScript.load('brain_apply_fill');

/** Which key of the call holds another Redis type. */
export type ApplyFillKeyRole = 'ledger' | 'marker' | 'stream' | 'order';

/** `order_accounted`: a confirmed fill of an order a repair already accounted: not applied. */
export type ApplyFillReply =
  | 'applied'
  | 'recorded'
  | 'duplicate'
  | 'conflict'
  | 'order_accounted'
  | { wrongType: ApplyFillKeyRole; key: string };

/** `fill`: a confirmed fill, applied once. `order`: an unconfirmed order's order fields only. */
export type ApplyFillMode = 'fill' | 'order';

export interface ApplyFillCall {
  symbol: string;
  entryId: string;
  /** The raw `version` field as read ('' when absent). */
  expectedVersion: string;
  /** Ledger fields to write; `last_result_id` is set by the script itself. */
  fields: Record<string, string>;
  /** Default `fill`. */
  mode?: ApplyFillMode;
  /**
   * The fill's order id: its order-accounted marker is checked (fill mode), so a fill of an
   * order the engine repaired from while unconfirmed is never applied again.
   */
  orderId?: string | null;
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
  const mode = call.mode ?? 'fill';
  const scriptKeys = [
    keys.ledger(call.symbol),
    keys.resultApplied(call.entryId),
    keys.applyResultStream,
  ];
  if (mode === 'fill' && isKeySafeOrderId(call.orderId))
    scriptKeys.push(keys.orderAccounted(call.symbol, call.orderId));
  return {
    keys: scriptKeys,
    args: [
      settings.group,
      call.entryId,
      call.expectedVersion,
      Math.max(1, Math.round(settings.ledgerTtlMs)),
      Math.max(1, Math.round(settings.markerTtlMs)),
      mode,
      ...pairs,
    ],
  };
}

const ROLES: readonly ApplyFillKeyRole[] = ['ledger', 'marker', 'stream', 'order'];

/** Decodes the reply; `scriptKeys` names the wrong-typed key. Null for anything unknown. */
export function decodeApplyFillReply(
  reply: unknown,
  scriptKeys: readonly string[] = [],
): ApplyFillReply | null {
  if (
    reply === 'applied' ||
    reply === 'recorded' ||
    reply === 'duplicate' ||
    reply === 'conflict' ||
    reply === 'order_accounted'
  )
    return reply;
  if (typeof reply === 'string' && reply.startsWith('wrong_type:')) {
    const index = ROLES.indexOf(reply.slice('wrong_type:'.length) as ApplyFillKeyRole);
    const role = ROLES[index];
    if (role !== undefined) return { wrongType: role, key: scriptKeys[index] ?? '' };
  }
  return null;
}

export async function runApplyFill(
  redis: Redis,
  keys: Keys,
  call: ApplyFillCall,
  settings: ApplyFillSettings,
): Promise<ApplyFillReply> {
  const { keys: scriptKeys, args } = applyFillArgs(keys, call, settings);
  const raw: unknown = await applyFillScript.run(redis, scriptKeys, args);
  const reply = decodeApplyFillReply(raw, scriptKeys);
  if (reply === null)
    throw new PosguardError(
      'SCRIPT_REPLY_INVALID',
      `brain_apply_fill returned an unknown reply ${JSON.stringify(raw)}`,
    );
  return reply;
}
