/**
 * The live dashboard (pure rendering): per symbol exchange vs ledger, reconcile status
 * and reason, hold and its TTL; permits allowed/denied by reason; plan → permit latency;
 * the latest reconcile events; the current scenario step. On a terminal it is redrawn
 * in place; otherwise (or --headless) one compact line per second.
 */
import type { LatencySummary } from '../pipeline/latency-stats.js';
import type { PermitCounts } from '../pipeline/plan-book.js';
import type { SymbolView } from './observer.js';
import type { ObservedEvent } from './signals.js';

export interface DashboardModel {
  elapsedSec: number;
  durationSec: number;
  step: string;
  stepStatus: string;
  views: readonly SymbolView[];
  permits: PermitCounts;
  latency: LatencySummary;
  events: readonly ObservedEvent[];
  orders: { close: number; open: number; failed: number };
  header: readonly string[];
}

const BOLD = '\x1b[1m';
const DIM = '\x1b[2m';
const RED = '\x1b[31m';
const GREEN = '\x1b[32m';
const YELLOW = '\x1b[33m';
const RESET = '\x1b[0m';

function statusColour(status: string): string {
  if (status === 'OK' || status === 'REPAIRED') return GREEN;
  if (status === 'DRIFT') return YELLOW;
  return status === '—' ? DIM : RED;
}

function ms(value: number | null): string {
  return value === null ? '—' : `${value.toFixed(1)} ms`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text.slice(0, width) : text + ' '.repeat(width - text.length);
}

function topReasons(permits: PermitCounts, limit: number): string {
  const entries = Object.entries(permits.byReason).sort((a, b) => b[1] - a[1]);
  return (
    entries
      .slice(0, limit)
      .map(([reason, n]) => `${reason} ${n}`)
      .join(', ') || 'none'
  );
}

function symbolRow(view: SymbolView, colour: boolean): string {
  const hold =
    view.holdTtlSec === null
      ? '—'
      : `${view.holdTtlSec.toFixed(0)}s${view.holdBy ? ` (${view.holdBy})` : ''}`;
  const age = view.snapshotAgeSec === null ? '—' : `${view.snapshotAgeSec.toFixed(1)}s`;
  const status = pad(view.status, 16);
  const coloured = colour ? `${statusColour(view.status)}${status}${RESET}` : status;
  return `  ${pad(view.symbol, 9)} ${pad(view.exchange, 10)} ${pad(view.ledger, 10)} ${pad(age, 6)} ${coloured} ${pad(view.reason, 28)} ${hold}`;
}

function eventLine(event: ObservedEvent): string {
  const time = new Date(event.tsMs).toISOString().slice(11, 23);
  const extra = event.fields.new_ledger_amt ? ` → ledger ${event.fields.new_ledger_amt}` : '';
  return `  ${time} ${pad(event.event, 20)} ${pad(event.symbol, 9)} ${event.reason}${extra}`;
}

/** The full-screen dashboard. */
export function renderDashboard(model: DashboardModel, colour: boolean): string[] {
  const b = (text: string): string => (colour ? `${BOLD}${text}${RESET}` : text);
  const lines = [
    b(`posguard demo — ${model.elapsedSec.toFixed(0)} s / ${model.durationSec} s`),
    ...model.header.map((h) => `  ${h}`),
    '',
    b(`Scenario: ${model.step}`),
    `  ${model.stepStatus}`,
    '',
    b(
      '  symbol    exchange   ledger     snap   status           reason                       hold',
    ),
    ...model.views.map((v) => symbolRow(v, colour)),
    '',
    b('Permits'),
    `  allowed ${model.permits.allowed}   denied ${model.permits.denied}: ${topReasons(model.permits, 6)}`,
    `  plan → permit (probe, ${model.latency.count} plans): p50 ${ms(model.latency.p50Ms)}  p99 ${ms(model.latency.p99Ms)}  max ${ms(model.latency.maxMs)}`,
    `  orders: ${model.orders.close} reduce-only closes, ${model.orders.open} opening, ${model.orders.failed} failed`,
    '',
    b('Latest reconcile events'),
    ...(model.events.length === 0 ? ['  (none yet)'] : model.events.map(eventLine)),
  ];
  return lines;
}

/** One line per second for logs and CI. */
export function renderLine(model: DashboardModel): string {
  const symbols = model.views
    .map(
      (v) =>
        `${v.symbol} ex=${v.exchange} led=${v.ledger} ${v.status}${v.reason ? `/${v.reason}` : ''}${v.holdTtlSec === null ? '' : ' HOLD'}`,
    )
    .join(' | ');
  return (
    `[${model.elapsedSec.toFixed(0).padStart(3)}s] ${model.step} :: ${symbols} :: permits ${model.permits.allowed} allow / ` +
    `${model.permits.denied} deny :: p50 ${ms(model.latency.p50Ms)} p99 ${ms(model.latency.p99Ms)}`
  );
}

/** Cursor home, the lines each cleared to the end, then clear below. */
export function redraw(lines: readonly string[]): string {
  return `\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`;
}
