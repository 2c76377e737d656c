/**
 * An operator sets or clears a hold, through `manual_hold.lua` (spec:
 * src/redis/scripts/manual-hold.ts). A hold set here carries no engine-owner marker, so the
 * reconcile engine never deletes it. A key of the wrong type is refused by the script before
 * it writes anything; the error names the key.
 */
import type { Redis } from 'ioredis';
import { PosguardError } from '../errors.js';
import type { Keys } from '../redis/keys.js';
import {
  type HoldChangeMode,
  type ManualHoldReply,
  type PreviousHoldOwner,
  manualHold,
} from '../redis/scripts/manual-hold.js';
import { runScript } from '../redis/scripts/script.js';
import { EVENTS_MAXLEN, manualEventFields } from './manual-event.js';

export interface HoldChange {
  symbol: string;
  nowMs: number;
  reason: string;
  operator: string;
}

/** none | operator | p34 | shared — who held the symbol before the change. */
export type HoldReply = { status: 'OK'; previousOwner: PreviousHoldOwner } | { status: 'NO_HOLD' };

/** The operator's result of a script reply; a wrong-typed key is a CONFLICT naming it. */
function holdReply(reply: ManualHoldReply): HoldReply {
  if (reply.status === 'ok') return { status: 'OK', previousOwner: reply.previousOwner };
  if (reply.status === 'no_hold') return { status: 'NO_HOLD' };
  throw new PosguardError(
    'CONFLICT',
    `${reply.key} holds a ${reply.found}, not the type posguard writes there; nothing written. ` +
      `Inspect it (redis-cli TYPE ${reply.key}) and delete it if it is debris, then retry`,
  );
}

async function changeHold(
  redis: Redis,
  keys: Keys,
  symbol: string,
  change: HoldChangeMode,
  event: string[],
): Promise<HoldReply> {
  const reply = await runScript(redis, manualHold, {
    keys,
    symbol,
    change,
    eventsMaxlen: EVENTS_MAXLEN,
    event,
  });
  return holdReply(reply);
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
  return changeHold(redis, keys, change.symbol, { mode: 'set', ttlMs }, event);
}

export async function clearManualHold(
  redis: Redis,
  keys: Keys,
  change: HoldChange,
): Promise<HoldReply> {
  const event = manualEventFields({ event: 'MANUAL_HOLD_CLEARED', ...change, details: {} });
  return changeHold(redis, keys, change.symbol, { mode: 'clear' }, event);
}
