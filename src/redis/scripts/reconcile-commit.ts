/**
 * `reconcile_commit.lua`: one symbol's reconcile decision applied atomically (SPEC §7) —
 * ledger init/repair with its compare-and-set and evidence markers, the hold by ownership,
 * edge-triggered events and the state hash. The engine turns a decision into these
 * arguments (`src/reconcile/commit.ts`); this spec only places them in KEYS and ARGV.
 * Fenced (SPEC §11): the `reconcile` fence in KEYS[6], the writer's epoch in ARGV; a
 * `fenced` reply means nothing was written.
 */
import { PosguardError } from '../../errors.js';
import type { Keys } from '../keys.js';
import { type FencedResult, decodeFenced, epochArg } from './fencing.js';
import { type ScriptReply, type ScriptSpec, unknownStatus } from './script.js';

export type CommitAction = 'status' | 'init' | 'repair';
export type CommitHoldPolicy = 'set' | 'keep' | 'clear';

/** The ledger write of an init or repair. */
export interface CommitLedgerWrite {
  /** Ledger field → raw value as read ('' = absent): the compare-and-set. */
  expect: Readonly<Record<string, string>>;
  /** Ledger fields to write. */
  ledger: Readonly<Record<string, string>>;
  /** Fields added to the LEDGER_INIT / AUTO_REPAIR event. */
  event: Readonly<Record<string, string>>;
  ledgerTtlMs: number;
  evidenceTtlMs: number;
  /** TTL of the result-applied and order-accounted markers a repair sets. */
  appliedTtlMs: number;
}

/** A repair's evidence: its entries' markers and, maybe, its order's marker. */
export interface CommitRepair {
  entryIds: readonly string[];
  /** `set`: the evidence is an unconfirmed order; `check`: one fill of an order. */
  orderMarker: { mode: 'set' | 'check'; orderId: string } | null;
}

/** One symbol's commit as the decision encodes it (src/reconcile/commit.ts). */
export interface CommitCall {
  keys: Keys;
  symbol: string;
  action: CommitAction;
  status: string;
  reason: string;
  holdPolicy: CommitHoldPolicy;
  nowMs: number;
  holdTtlMs: number;
  eventsMaxlen: number;
  /** State hash fields written besides status, liveness and the hold's. */
  state: Readonly<Record<string, string>>;
  /** Fields added to every event. */
  details: Readonly<Record<string, string>>;
  /** init and repair only. */
  ledgerWrite?: CommitLedgerWrite;
  /** repair only. */
  repair?: CommitRepair;
}

/** A commit with the writer's epoch, taken from its term at write time (SPEC §11). */
export interface CommitArgs extends CommitCall {
  epoch: number;
}

export type CommitCode = 'ok' | 'conflict' | 'evidence_used' | 'evidence_applied';
export type HoldBy = 'p34' | 'shared' | 'foreign' | '';

export interface CommitReply {
  code: CommitCode;
  holdBy: HoldBy;
  /** A hold episode started (or changed reason) in this call. */
  newEpisode: boolean;
  events: number;
  /** The episode's hold was gone (deleted, expired) and the engine set it again. */
  holdLost: boolean;
}

/** A key of the wrong type: the script refused before writing anything. */
export interface WrongTypeReply {
  code: 'wrong_type';
  key: string;
  /** The key's type (`string`, `list`, …). */
  found: string;
}

function ms(value: number): string {
  return String(Math.max(1, Math.round(value)));
}

function encodeArgv(a: CommitArgs): Record<string, unknown> {
  const argv: Record<string, unknown> = {
    epoch: epochArg(reconcileCommit, a.epoch),
    action: a.action,
    symbol: a.symbol,
    status: a.status,
    reason: a.reason,
    hold_policy: a.holdPolicy,
    now_ms: String(a.nowMs),
    ts: String(Math.floor(a.nowMs / 1000)),
    hold_ttl_ms: ms(a.holdTtlMs),
    events_maxlen: String(a.eventsMaxlen),
    state: a.state,
    details: a.details,
  };
  if (a.action !== 'status') {
    const w = a.ledgerWrite;
    if (w === undefined)
      throw new PosguardError(
        'USAGE',
        `reconcile_commit: ${a.action} of ${a.symbol} without a ledger write`,
      );
    argv.expect = w.expect;
    argv.ledger = w.ledger;
    argv.event = w.event;
    argv.ledger_ttl_ms = ms(w.ledgerTtlMs);
    argv.evidence_ttl_ms = ms(w.evidenceTtlMs);
    argv.applied_ttl_ms = ms(w.appliedTtlMs);
  }
  if (a.action === 'repair') argv.order_marker = a.repair?.orderMarker?.mode ?? '';
  return argv;
}

const CODES: ReadonlySet<string> = new Set(['ok', 'conflict', 'evidence_used', 'evidence_applied']);
const HOLDERS: ReadonlySet<string> = new Set(['p34', 'shared', 'foreign', '']);

export const reconcileCommit: ScriptSpec<CommitArgs, CommitReply | WrongTypeReply | FencedResult> =
  {
    name: 'reconcile_commit',
    version: 3,
    keyCount: 'variable',
    encode: (a) => {
      const sym = a.symbol;
      const keys = [
        a.keys.hold(sym),
        a.keys.holdOwner(sym),
        a.keys.reconcileState(sym),
        a.keys.reconcileEventsStream,
        a.keys.ledger(sym),
        a.keys.fence('reconcile'),
      ];
      if (a.action === 'repair') {
        for (const id of a.repair?.entryIds ?? [])
          keys.push(a.keys.evidenceUsed(id), a.keys.resultApplied(id));
        const marker = a.repair?.orderMarker;
        if (marker) keys.push(a.keys.orderAccounted(sym, marker.orderId));
      }
      return { keys, argv: encodeArgv(a) };
    },
    decode: (reply: ScriptReply) => {
      const fenced = decodeFenced(reconcileCommit, reply);
      if (fenced !== null) return fenced;
      const { status } = reply;
      if (
        status === 'wrong_type' &&
        typeof reply.key === 'string' &&
        typeof reply.found === 'string'
      )
        return { code: 'wrong_type', key: reply.key, found: reply.found };
      const { hold_by: holdBy, new_episode: newEpisode, events, hold_lost: holdLost } = reply;
      if (
        CODES.has(status) &&
        typeof holdBy === 'string' &&
        HOLDERS.has(holdBy) &&
        typeof newEpisode === 'boolean' &&
        Number.isInteger(events) &&
        (events as number) >= 0 &&
        typeof holdLost === 'boolean'
      ) {
        return {
          code: status as CommitCode,
          holdBy: holdBy as HoldBy,
          newEpisode,
          events: events as number,
          holdLost,
        };
      }
      return unknownStatus(reconcileCommit, reply);
    },
  };
