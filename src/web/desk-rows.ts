/**
 * What the page shows of one symbol, and of a heartbeat: plain JSON built from the shared
 * decoded state. Pure. Every string here came from Redis and is rendered by the page as
 * text, never as markup; `status` is normalised to a fixed set so the page can pick a colour
 * from it without trusting Redis.
 */
import { formatAmount } from '../domain/amount.js';
import { parseTimestampMs } from '../domain/time.js';
import type { SymbolState } from '../redis/symbol-state.js';

export type RowStatus =
  'OK' | 'DRIFT' | 'HOLD' | 'REPAIRED' | 'MANUAL_REQUIRED' | 'UNKNOWN' | 'NONE';

export interface DeskRow {
  symbol: string;
  exchange: string | null;
  /** Why there is no exchange amount: `missing` or the codec's problem. */
  exchange_problem: string | null;
  ledger: string | null;
  ledger_problem: string | null;
  /** exchange − ledger, when both are known. */
  diff: string | null;
  /** NONE: the engine has not written a state; UNKNOWN: a value outside the SPEC's set. */
  status: RowStatus;
  /** The raw status when UNKNOWN (shown as text). */
  status_text: string | null;
  reason: string | null;
  since_ms: number | null;
  hold: { owner: string; expires_ms: number | null } | null;
  /** When the exchange snapshot was taken (the page shows its age). */
  snapshot_ms: number | null;
}

export function deskRow(state: SymbolState, nowMs: number): DeskRow {
  const snap = state.snapshot;
  const ledger = state.ledger;
  const exchange = snap.kind === 'ok' ? snap.snapshot.amount : null;
  const ledgerAmt = ledger.kind === 'ok' ? ledger.ledger.amount : null;
  const view = state.state.kind === 'ok' ? state.state.state : null;
  const status: RowStatus = state.state.kind === 'missing' ? 'NONE' : (view?.status ?? 'UNKNOWN');
  const hold = state.hold;
  return {
    symbol: state.symbol,
    exchange: exchange === null ? null : formatAmount(exchange),
    exchange_problem:
      snap.kind === 'ok' ? null : snap.kind === 'missing' ? 'missing' : snap.problem,
    ledger: ledgerAmt === null ? null : formatAmount(ledgerAmt),
    ledger_problem:
      ledger.kind === 'ok' ? null : ledger.kind === 'missing' ? 'missing' : ledger.problem,
    diff: exchange !== null && ledgerAmt !== null ? formatAmount(exchange.minus(ledgerAmt)) : null,
    status,
    status_text:
      status !== 'UNKNOWN'
        ? null
        : state.state.kind === 'invalid'
          ? state.state.problem
          : (view?.unknownStatus ?? null),
    reason: view?.reason ?? null,
    since_ms: view?.sinceMs ?? null,
    hold: hold.present
      ? {
          owner: hold.owner ?? 'operator',
          // PEXPIRETIME is exact and stable between reads; without it (Redis < 7) the
          // expiry is derived from the TTL, to the second.
          expires_ms:
            hold.expireTimeMs ??
            (hold.ttlMs === null ? null : Math.round((nowMs + hold.ttlMs) / 1000) * 1000),
        }
      : null,
    snapshot_ms: snap.kind === 'ok' ? snap.snapshot.takenMs : null,
  };
}

export interface HeartbeatView {
  present: boolean;
  /** When it was written (ts_ms, else ts_epoch), when readable. */
  ts_ms: number | null;
  /** Its other scalar facts as text (pid, host, cycle, consumer, …). */
  facts: Record<string, string>;
  problem: string | null;
}

const HEARTBEAT_TIME_FIELDS = new Set(['ts_ms', 'ts_epoch']);

/** A heartbeat value (JSON string) as the page shows it; never throws. */
export function heartbeatView(raw: string | null): HeartbeatView {
  if (raw === null) return { present: false, ts_ms: null, facts: {}, problem: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { present: true, ts_ms: null, facts: {}, problem: 'not JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { present: true, ts_ms: null, facts: {}, problem: 'not a JSON object' };
  }
  const record = parsed as Record<string, unknown>;
  const facts: Record<string, string> = {};
  for (const [name, value] of Object.entries(record)) {
    if (HEARTBEAT_TIME_FIELDS.has(name)) continue;
    if (['string', 'number', 'boolean'].includes(typeof value)) facts[name] = String(value);
  }
  return {
    present: true,
    ts_ms: parseTimestampMs(record.ts_ms) ?? parseTimestampMs(record.ts_epoch),
    facts,
    problem: null,
  };
}
