/**
 * A symbol's history, on click: its latest events and its latest plans with the permit
 * decision (and the permit while it still exists), fetched from /api/symbol/SYM.
 */
import { byId, clear, el, setText } from './dom.js';
import { eventItem } from './events.js';
import { clockTime } from './format.js';

let current = null;

function decisionText(decision) {
  if (decision === null) return '-';
  if (decision.kind === 'deny') return `deny: ${decision.reason}`;
  return decision.kind;
}

function permitText(plan) {
  if (plan.permit !== null) {
    const p = plan.permit;
    return p.allow === 'true' ? `safe_close_qty=${p.safe_close_qty ?? '?'}` : 'present';
  }
  if (plan.permit_raw !== null) return `unreadable permit: ${plan.permit_raw}`;
  return 'gone (used or expired)';
}

function permitRow(plan) {
  return el('tr', {}, [
    el('td', { text: clockTime(plan.ts_ms) }),
    el('td', { text: plan.plan_id ?? '-' }),
    el('td', { text: plan.action ?? '-' }),
    el('td', {
      className: `decision-${plan.decision?.kind ?? 'none'}`,
      text: decisionText(plan.decision),
    }),
    el('td', { text: permitText(plan) }),
  ]);
}

export async function showHistory(symbol) {
  current = symbol;
  const panel = byId('history');
  panel.hidden = false;
  setText(byId('history-symbol'), symbol);
  setText(byId('history-note'), 'loading…');
  clear(byId('history-events'));
  clear(byId('history-permits'));
  let history;
  try {
    const response = await fetch(`/api/symbol/${encodeURIComponent(symbol)}`, {
      cache: 'no-store',
    });
    history = await response.json();
    if (!response.ok) throw new Error(history.error ?? `HTTP ${response.status}`);
  } catch (error) {
    if (current === symbol)
      setText(byId('history-note'), `could not load: ${String(error.message ?? error)}`);
    return;
  }
  if (current !== symbol) return;
  setText(
    byId('history-note'),
    `${history.events.length} latest events, ${history.permits.length} latest plans`,
  );
  byId('history-events').append(...history.events.map(eventItem));
  byId('history-permits').append(...history.permits.map(permitRow));
}

export function hideHistory() {
  current = null;
  byId('history').hidden = true;
}

export function shownSymbol() {
  return current;
}
