/**
 * Audit-trail events (`P:stream:reconcile.events`) as list items, every field as text.
 */
import { byId, el } from './dom.js';
import { clockTime, entryTime } from './format.js';

export const LIVE_EVENTS_KEPT = 100;
const SKIP = new Set(['event', 'symbol', 'reason', 'ts', 'ts_ms']);
let onSymbol = () => undefined;

export function onEventSymbol(handler) {
  onSymbol = handler;
}

/** One event as a list item: time, name, symbol, reason, then the other fields. */
export function eventItem(record) {
  const fields = record.fields ?? {};
  const symbol = el('button', { className: 'ev-symbol link', text: fields.symbol ?? '-' });
  symbol.type = 'button';
  symbol.addEventListener('click', () => {
    if (fields.symbol) onSymbol(fields.symbol);
  });
  const details = Object.keys(fields)
    .filter((name) => !SKIP.has(name))
    .map((name) => `${name}=${fields[name]}`)
    .join('  ');
  const item = el('li', { className: 'event', title: record.id }, [
    el('span', { className: 'ev-time', text: clockTime(entryTime(record.id, fields)) }),
    el('span', { className: 'ev-name', text: fields.event ?? '?' }),
    symbol,
    el('span', { className: 'ev-reason', text: fields.reason ?? '' }),
    el('span', { className: 'ev-details', text: details }),
  ]);
  item.dataset.id = record.id;
  return item;
}

/** Adds new events at the top of the live list, keeping the newest LIVE_EVENTS_KEPT. */
export function addLiveEvents(records, reset) {
  const list = byId('events');
  if (reset) list.replaceChildren();
  const known = new Set([...list.children].map((li) => li.dataset.id));
  for (const record of records) {
    if (!known.has(record.id)) list.prepend(eventItem(record));
  }
  while (list.children.length > LIVE_EVENTS_KEPT) list.lastElementChild?.remove();
}
