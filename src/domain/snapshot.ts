/**
 * Exchange snapshot codec (SPEC §3): `P:position:snapshot:SYM`, written by the brain.
 */
import { type Amount, type Side, formatAmount, parseAmount, sideOf } from './amount.js';
import { parseTimestampMs } from './time.js';

export interface Snapshot {
  amount: Amount;
  side: Side;
  entryPrice: Amount | null;
  markPrice: Amount | null;
  leverage: string | null;
  unrealizedPnl: Amount | null;
  /** When posguard took the snapshot. */
  takenMs: number;
  /** The exchange's own update time for the position, when it gave one. */
  exchangeUpdateMs: number | null;
  source: string | null;
}

export type SnapshotRead =
  { kind: 'missing' } | { kind: 'invalid'; problem: string } | { kind: 'ok'; snapshot: Snapshot };

export function decodeSnapshot(hash: Record<string, string>): SnapshotRead {
  if (Object.keys(hash).length === 0) return { kind: 'missing' };
  const amount = parseAmount(hash.position_amt);
  if (amount === null) {
    return {
      kind: 'invalid',
      problem: `position_amt ${JSON.stringify(hash.position_amt)} is not a decimal`,
    };
  }
  const takenMs = parseTimestampMs(hash.ts_ms) ?? parseTimestampMs(hash.ts_epoch);
  if (takenMs === null) return { kind: 'invalid', problem: 'no usable ts_ms/ts_epoch' };
  return {
    kind: 'ok',
    snapshot: {
      amount,
      side: sideOf(amount),
      entryPrice: parseAmount(hash.entry_price),
      markPrice: parseAmount(hash.mark_price),
      leverage: hash.leverage ?? null,
      unrealizedPnl: parseAmount(hash.unrealized_pnl),
      takenMs,
      exchangeUpdateMs: parseTimestampMs(hash.exchange_update_ms),
      source: hash.source ?? null,
    },
  };
}

export function encodeSnapshot(snapshot: Snapshot): Record<string, string> {
  const opt = (value: Amount | null): string => (value === null ? '' : formatAmount(value));
  return {
    position_amt: formatAmount(snapshot.amount),
    side: sideOf(snapshot.amount),
    entry_price: opt(snapshot.entryPrice),
    mark_price: opt(snapshot.markPrice),
    leverage: snapshot.leverage ?? '',
    unrealized_pnl: opt(snapshot.unrealizedPnl),
    ts_epoch: String(Math.floor(snapshot.takenMs / 1000)),
    ts_ms: String(snapshot.takenMs),
    ts_iso: new Date(snapshot.takenMs).toISOString(),
    exchange_update_ms: snapshot.exchangeUpdateMs === null ? '' : String(snapshot.exchangeUpdateMs),
    source: snapshot.source ?? 'rest',
  };
}
