/**
 * `manual_ledger.lua`: an operator writes the ledger (`ledger set` / `ledger adopt`,
 * SPEC §4, §10) with a compare-and-set on its raw `version`, and the audit event, in one step.
 */
import type { Keys } from '../keys.js';
import {
  type ScriptReply,
  type ScriptSpec,
  unknownStatus,
  decodeWrongType,
  type WrongTypeResult,
} from './script.js';

export interface ManualLedgerArgs {
  keys: Keys;
  symbol: string;
  /** The raw `version` field as read ("" when absent): what the compare-and-set compares. */
  expectedVersion: string;
  /** The ledger fields to write (from the ledger codec). */
  ledger: Readonly<Record<string, string>>;
  ledgerTtlMs: number;
  eventsMaxlen: number;
  /** The audit event's field/value pairs, in order. */
  event: readonly string[];
}

export type ManualLedgerReply =
  /** Written; `version` is the ledger's new version. */
  | { status: 'ok'; version: string }
  /** The ledger changed since it was read; `version` is its raw version now. Nothing written. */
  | { status: 'conflict'; version: string }
  /** A key of the wrong type: nothing written. */
  | WrongTypeResult;

export const manualLedger: ScriptSpec<ManualLedgerArgs, ManualLedgerReply> = {
  name: 'manual_ledger',
  version: 2,
  keyCount: 2,
  encode: (a) => ({
    keys: [a.keys.ledger(a.symbol), a.keys.reconcileEventsStream],
    argv: {
      expect_version: a.expectedVersion,
      ledger: a.ledger,
      ledger_ttl_ms: Math.max(1, Math.round(a.ledgerTtlMs)),
      events_maxlen: a.eventsMaxlen,
      event: a.event,
    },
  }),
  decode: (reply: ScriptReply) => {
    if ((reply.status === 'ok' || reply.status === 'conflict') && typeof reply.version === 'string')
      return { status: reply.status, version: reply.version };
    const wrongType = decodeWrongType(manualLedger, reply);
    if (wrongType) return wrongType;
    return unknownStatus(manualLedger, reply);
  },
};
