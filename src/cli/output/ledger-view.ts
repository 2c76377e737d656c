/**
 * How `ledger show` presents a ledger: decoded fields first, then the raw hash.
 */
import { formatAmount } from '../../domain/amount.js';
import type { LedgerState } from '../../operator/manual-ledger.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function ledgerJson(
  symbol: string,
  key: string,
  state: LedgerState,
  ttlSec: number | null,
): Record<string, unknown> {
  const read = state.read;
  const base = { symbol, key, state: read.kind, ttl_sec: ttlSec, raw: state.raw };
  if (read.kind === 'invalid') return { ...base, problem: read.problem };
  if (read.kind === 'missing') return { ...base, version: read.version };
  const l = read.ledger;
  return {
    ...base,
    amount: formatAmount(l.amount),
    side: l.side,
    version: l.version,
    source: l.source,
    updated_ms: l.updatedMs,
    last_order_id: l.lastOrderId,
    last_order_time_ms: l.lastOrderTimeMs,
    last_plan_id: l.lastPlanId,
    last_result_id: l.lastResultId,
  };
}

export function describeLedger(
  symbol: string,
  key: string,
  state: LedgerState,
  ttlSec: number | null,
  nowMs: number,
): string {
  const lines = [
    `ledger ${symbol}  (${key}, TTL ${ttlSec === null ? 'none' : `${Math.round(ttlSec)} s`})`,
  ];
  const read = state.read;
  const field = (name: string, value: string | number | null): void => {
    lines.push(`  ${name.padEnd(12)} ${value === null || value === '' ? '-' : String(value)}`);
  };
  if (read.kind === 'missing')
    field(
      'state',
      'missing (no amount yet; the reconcile engine initialises it from the exchange)',
    );
  else if (read.kind === 'invalid')
    field('state', `INVALID: ${read.problem} (fix with posguard ledger set/adopt)`);
  else {
    const l = read.ledger;
    const age = l.updatedMs === null ? '' : ` (${((nowMs - l.updatedMs) / 1000).toFixed(1)} s ago)`;
    field('state', 'ok');
    field('amount', `${formatAmount(l.amount)} ${l.side}`);
    field('version', l.version);
    field('source', l.source);
    field('updated', `${iso(l.updatedMs) ?? '-'}${age}`);
    field('last order', l.lastOrderId);
    field('order time', iso(l.lastOrderTimeMs));
    field('last plan', l.lastPlanId);
    field('last result', l.lastResultId);
  }
  const raw = Object.entries(state.raw).sort(([a], [b]) => a.localeCompare(b));
  lines.push(raw.length === 0 ? 'raw fields: none' : 'raw fields:');
  for (const [name, value] of raw) lines.push(`  ${name} = ${value}`);
  return lines.join('\n');
}
