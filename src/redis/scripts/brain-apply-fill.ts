/**
 * `brain_apply_fill.lua`: one executed apply.result entry written into a ledger at most
 * once (compare-and-set on the raw `version`, result-applied marker, ack), SPEC §4.
 */
import { type Keys, isKeySafeOrderId } from '../keys.js';
import {
  type ScriptReply,
  type ScriptSpec,
  unknownStatus,
  decodeWrongType,
  type WrongTypeResult,
} from './script.js';

/** `fill`: a confirmed fill, applied once. `order`: an unconfirmed order's order fields only. */
export type ApplyFillMode = 'fill' | 'order';

export interface ApplyFillSettings {
  group: string;
  ledgerTtlMs: number;
  markerTtlMs: number;
}

export interface ApplyFillArgs extends ApplyFillSettings {
  keys: Keys;
  symbol: string;
  entryId: string;
  /** The raw `version` field as read ('' when absent). */
  expectedVersion: string;
  /** Ledger fields to write; `last_result_id` is set by the script itself (never passed). */
  fields: Readonly<Record<string, string>>;
  /** Default `fill`. */
  mode?: ApplyFillMode;
  /**
   * The fill's order id: its order-accounted marker is checked (fill mode), so a fill of an
   * order the engine repaired from while unconfirmed is never applied again.
   */
  orderId?: string | null;
}

export type ApplyFillResult =
  | { status: 'applied' }
  | { status: 'recorded' }
  | { status: 'duplicate' }
  /** The ledger changed since it was read: nothing written, not acked (re-read and retry). */
  | { status: 'conflict' }
  /** A confirmed fill of an order a repair already accounted: not applied, marked done, acked. */
  | { status: 'order_accounted' }
  /** A key of another Redis type: nothing written, not acked. */
  | WrongTypeResult;

const PLAIN = new Set(['applied', 'recorded', 'duplicate', 'conflict', 'order_accounted']);

export const brainApplyFill: ScriptSpec<ApplyFillArgs, ApplyFillResult> = {
  name: 'brain_apply_fill',
  version: 2,
  keyCount: 'variable',
  encode: (a) => {
    const mode = a.mode ?? 'fill';
    const keys = [
      a.keys.ledger(a.symbol),
      a.keys.resultApplied(a.entryId),
      a.keys.applyResultStream,
    ];
    if (mode === 'fill' && isKeySafeOrderId(a.orderId))
      keys.push(a.keys.orderAccounted(a.symbol, a.orderId));
    const ledger: Record<string, string> = {};
    for (const [field, value] of Object.entries(a.fields))
      if (field !== 'last_result_id') ledger[field] = value;
    return {
      keys,
      argv: {
        group: a.group,
        entry_id: a.entryId,
        expect_version: a.expectedVersion,
        ledger_ttl_ms: Math.max(1, Math.round(a.ledgerTtlMs)),
        marker_ttl_ms: Math.max(1, Math.round(a.markerTtlMs)),
        mode,
        ledger,
      },
    };
  },
  decode: (reply: ScriptReply) => {
    if (PLAIN.has(reply.status))
      return { status: reply.status as Exclude<ApplyFillResult['status'], 'wrong_type'> };
    const wrongType = decodeWrongType(brainApplyFill, reply);
    if (wrongType) return wrongType;
    return unknownStatus(brainApplyFill, reply);
  },
};
