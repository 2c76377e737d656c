/**
 * `manual_hold.lua`: an operator sets or clears a symbol's hold (SPEC §10), with its
 * audit event, in one step; a hold set here carries no engine owner marker.
 */
import type { HoldOwner } from '../../domain/hold-owner.js';
import type { Keys } from '../keys.js';
import {
  type ScriptReply,
  type ScriptSpec,
  unknownStatus,
  decodeWrongType,
  type WrongTypeResult,
} from './script.js';

export type HoldChangeMode = { mode: 'set'; ttlMs: number } | { mode: 'clear' };

export interface ManualHoldArgs {
  keys: Keys;
  symbol: string;
  change: HoldChangeMode;
  eventsMaxlen: number;
  /** The audit event's field/value pairs, in order (previous_owner is appended). */
  event: readonly string[];
}

/** Who held the symbol before the change; none when there was no hold. */
export type PreviousHoldOwner = 'none' | Exclude<HoldOwner, 'unreadable'>;

const PREVIOUS_OWNERS: ReadonlySet<unknown> = new Set<PreviousHoldOwner>([
  'none',
  'operator',
  'p34',
  'shared',
]);

export type ManualHoldReply =
  | { status: 'ok'; previousOwner: PreviousHoldOwner }
  /** clear, and there was no hold: nothing written, no event. */
  | { status: 'no_hold' }
  /** A key of the wrong type: nothing written (either mode). */
  | WrongTypeResult;

export const manualHold: ScriptSpec<ManualHoldArgs, ManualHoldReply> = {
  name: 'manual_hold',
  version: 2,
  keyCount: 3,
  encode: (a) => ({
    keys: [a.keys.hold(a.symbol), a.keys.holdOwner(a.symbol), a.keys.reconcileEventsStream],
    argv: {
      mode: a.change.mode,
      // A TTL below 1 ms is not clamped: the script refuses it (an error reply).
      ...(a.change.mode === 'set' ? { ttl_ms: Math.round(a.change.ttlMs) } : {}),
      events_maxlen: a.eventsMaxlen,
      event: a.event,
    },
  }),
  decode: (reply: ScriptReply) => {
    if (reply.status === 'ok' && PREVIOUS_OWNERS.has(reply.previous_owner))
      return { status: 'ok', previousOwner: reply.previous_owner as PreviousHoldOwner };
    if (reply.status === 'no_hold') return { status: 'no_hold' };
    const wrongType = decodeWrongType(manualHold, reply);
    if (wrongType) return wrongType;
    return unknownStatus(manualHold, reply);
  },
};
