/**
 * Typed wrapper of `manual_hold.lua`: an operator sets or clears a hold. A hold set here
 * carries no engine-owner marker, so the reconcile engine never deletes it. A key of the
 * wrong type is refused by the script before it writes anything; the error names the key.
 */
import type { Redis } from 'ioredis';
import { PosguardError } from '../errors.js';
import type { Keys } from '../redis/keys.js';
import { LuaScript } from '../redis/lua-script.js';
import { EVENTS_MAXLEN, manualEventFields } from './manual-event.js';

const script = LuaScript.load('manual_hold');

export interface HoldChange {
  symbol: string;
  nowMs: number;
  reason: string;
  operator: string;
}

/** none | operator | p34 | shared — who held the symbol before the change. */
export type HoldReply = { status: 'OK'; previousOwner: string } | { status: 'NO_HOLD' };

export function decodeHoldReply(reply: unknown): HoldReply {
  if (Array.isArray(reply) && reply.length === 2 && typeof reply[1] === 'string') {
    if (reply[0] === 'OK') return { status: 'OK', previousOwner: reply[1] };
    if (reply[0] === 'NO_HOLD') return { status: 'NO_HOLD' };
  }
  if (Array.isArray(reply) && reply.length === 3 && reply[0] === 'WRONG_TYPE') {
    const [, key, found] = reply as unknown[];
    throw new PosguardError(
      'CONFLICT',
      `${String(key)} holds a ${String(found)}, not the type posguard writes there; nothing written. ` +
        `Inspect it (redis-cli TYPE ${String(key)}) and delete it if it is debris, then retry`,
    );
  }
  throw new PosguardError(
    'SCRIPT_REPLY_INVALID',
    `manual_hold.lua replied ${JSON.stringify(reply)}`,
  );
}

function keyList(keys: Keys, symbol: string): string[] {
  return [keys.hold(symbol), keys.holdOwner(symbol), keys.reconcileEventsStream];
}

export async function setManualHold(
  redis: Redis,
  keys: Keys,
  change: HoldChange,
  ttlMs: number,
): Promise<HoldReply> {
  const event = manualEventFields({
    event: 'MANUAL_HOLD_SET',
    ...change,
    details: { ttl_sec: String(ttlMs / 1000) },
  });
  const reply = await script.run(redis, keyList(keys, change.symbol), [
    'set',
    Math.round(ttlMs),
    EVENTS_MAXLEN,
    ...event,
  ]);
  return decodeHoldReply(reply);
}

export async function clearManualHold(
  redis: Redis,
  keys: Keys,
  change: HoldChange,
): Promise<HoldReply> {
  const event = manualEventFields({ event: 'MANUAL_HOLD_CLEARED', ...change, details: {} });
  const reply = await script.run(redis, keyList(keys, change.symbol), [
    'clear',
    0,
    EVENTS_MAXLEN,
    ...event,
  ]);
  return decodeHoldReply(reply);
}
