/**
 * The audit event every operator change writes to `P:stream:reconcile.events` (SPEC §7,
 * §10): `event, symbol, ts, ts_ms, reason, operator` and the change's details.
 */
export type ManualEventName =
  'MANUAL_HOLD_SET' | 'MANUAL_HOLD_CLEARED' | 'MANUAL_LEDGER_SET' | 'MANUAL_LEDGER_ADOPT';

/** Same bound as the engine's events (SPEC §1: MAXLEN ~ 10000). */
export const EVENTS_MAXLEN = 10000;

export interface ManualEvent {
  event: ManualEventName;
  symbol: string;
  nowMs: number;
  reason: string;
  operator: string;
  details: Readonly<Record<string, string>>;
}

/** Flat field/value pairs for XADD (inside a Lua script's ARGV). */
export function manualEventFields(event: ManualEvent): string[] {
  const fields: Record<string, string> = {
    event: event.event,
    symbol: event.symbol,
    ts: String(Math.floor(event.nowMs / 1000)),
    ts_ms: String(event.nowMs),
    reason: event.reason,
    operator: event.operator,
    via: 'posguard-cli',
    ...event.details,
  };
  return Object.entries(fields).flat();
}
