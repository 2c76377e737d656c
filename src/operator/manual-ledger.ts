/**
 * `ledger set` and `ledger adopt` through `manual_ledger.lua` (spec:
 * src/redis/scripts/manual-ledger.ts): they write the ledger
 * through the one ledger codec (SPEC §4) with a compare-and-set on its `version`. On a
 * conflict (a fill or an auto-repair landed in between) the change is re-read and
 * retried once, then refused — an operator never overwrites a write they did not see.
 */
import type { Redis } from 'ioredis';
import { type Amount, epsilonFor, formatAmount } from '../domain/amount.js';
import { type LedgerRead, encodeLedger } from '../domain/ledger.js';
import type { Clock } from '../domain/time.js';
import { PosguardError } from '../errors.js';
import type { Keys } from '../redis/keys.js';
import { symbolStateProjection } from '../redis/symbol-state.js';
import { readSymbolStates } from '../redis/symbol-state-reader.js';
import { manualLedger } from '../redis/scripts/manual-ledger.js';
import { runScript } from '../redis/scripts/script.js';
import { EVENTS_MAXLEN, type ManualEventName, manualEventFields } from './manual-event.js';

export interface LedgerState {
  read: LedgerRead;
  /** The hash as stored (empty when absent). */
  raw: Record<string, string>;
  /** The `version` field as stored ("" when absent): what the compare-and-set compares. */
  rawVersion: string;
  /** The version the next write replaces (0 when absent or unreadable). */
  previousVersion: number;
  epsilon: Amount;
  /** The ledger key's TTL in ms; null without expiry or when absent. */
  ttlMs: number | null;
}

/** The ledger decoded (with its lot size's ε), its fields as stored, and its TTL. */
const LEDGER_STATE = symbolStateProjection(['ledger', 'lotSize', 'ledgerFields', 'ledgerTtlMs']);

/** One round trip through the shared symbol-state reader; a ledger that is not a hash is refused. */
export async function readLedgerState(
  redis: Redis,
  keys: Keys,
  symbol: string,
): Promise<LedgerState> {
  const [state] = await readSymbolStates(redis, keys, [symbol], LEDGER_STATE);
  if (state === undefined || state.ledgerFields === null) {
    throw new PosguardError(
      'CONFLICT',
      `${keys.ledger(symbol)} is not a hash (WRONGTYPE); inspect it with redis-cli TYPE before changing it`,
    );
  }
  const raw = state.ledgerFields;
  const rawVersion = raw.version ?? '';
  const trimmed = rawVersion.trim();
  return {
    read: state.ledger,
    raw,
    rawVersion,
    previousVersion: /^\d{1,15}$/.test(trimmed) ? Number(trimmed) : 0,
    epsilon: epsilonFor(state.lotSize?.stepSize),
    ttlMs: state.ledgerTtlMs,
  };
}

/** The ledger amount as an operator should see it: decoded, or the raw text when invalid. */
export function ledgerAmountText(state: LedgerState): string {
  if (state.read.kind === 'ok') return formatAmount(state.read.ledger.amount);
  if (state.read.kind === 'missing') return '';
  return state.raw.ledger_amt ?? state.raw.last_known_amt ?? '';
}

export interface LedgerTarget {
  amount: Amount;
  event: Extract<ManualEventName, 'MANUAL_LEDGER_SET' | 'MANUAL_LEDGER_ADOPT'>;
  details: Record<string, string>;
}

export interface ManualLedgerChange {
  symbol: string;
  reason: string;
  operator: string;
  clock: Clock;
  ledgerTtlSec: number;
  /** Decides the new amount from the ledger as just read (adopt also reads the snapshot). */
  target: (state: LedgerState, nowMs: number) => Promise<LedgerTarget>;
}

export interface ManualLedgerResult {
  oldAmount: string;
  oldState: LedgerRead['kind'];
  newAmount: string;
  oldVersion: string;
  newVersion: string;
  attempts: number;
  target: LedgerTarget;
}

type Attempt = { kind: 'done'; result: ManualLedgerResult } | { kind: 'conflict' };

async function attempt(
  redis: Redis,
  keys: Keys,
  change: ManualLedgerChange,
  attempts: number,
): Promise<Attempt> {
  const state = await readLedgerState(redis, keys, change.symbol);
  const nowMs = change.clock.nowMs();
  const target = await change.target(state, nowMs);
  const fields = encodeLedger({
    amount: target.amount,
    source: 'p34_manual',
    nowMs,
    previousVersion: state.previousVersion,
  });
  const oldAmount = ledgerAmountText(state);
  const newVersion = fields.version ?? '';
  const event = manualEventFields({
    event: target.event,
    symbol: change.symbol,
    nowMs,
    reason: change.reason,
    operator: change.operator,
    details: {
      old_ledger_amt: oldAmount,
      old_ledger_state: state.read.kind,
      new_ledger_amt: fields.ledger_amt ?? '',
      old_version: state.rawVersion,
      new_version: newVersion,
      ...target.details,
    },
  });
  const reply = await runScript(redis, manualLedger, {
    keys,
    symbol: change.symbol,
    expectedVersion: state.rawVersion,
    ledger: fields,
    ledgerTtlMs: change.ledgerTtlSec * 1000,
    eventsMaxlen: EVENTS_MAXLEN,
    event,
  });
  if (reply.status === 'conflict') return { kind: 'conflict' };
  if (reply.status === 'wrong_type') {
    // The script names the refused key (the ledger or the events stream) and its type.
    throw new PosguardError(
      'CONFLICT',
      `${reply.key} holds a ${reply.found}, not the type posguard writes there; nothing written`,
    );
  }
  return {
    kind: 'done',
    result: {
      oldAmount,
      oldState: state.read.kind,
      newAmount: fields.ledger_amt ?? '',
      oldVersion: state.rawVersion,
      newVersion,
      attempts,
      target,
    },
  };
}

/** Writes the ledger; retries once on a version conflict, then fails with CONFLICT. */
export async function writeManualLedger(
  redis: Redis,
  keys: Keys,
  change: ManualLedgerChange,
): Promise<ManualLedgerResult> {
  for (let attempts = 1; attempts <= 2; attempts += 1) {
    const outcome = await attempt(redis, keys, change, attempts);
    if (outcome.kind === 'done') return outcome.result;
  }
  throw new PosguardError(
    'CONFLICT',
    `the ledger of ${change.symbol} changed while it was being written (twice); nothing was written. ` +
      'Check `posguard ledger show` and run the command again.',
  );
}
