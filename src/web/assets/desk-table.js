/**
 * The table of every symbol: one row per symbol, updated in place from `desk` messages
 * (only changed rows arrive), sorted by how much attention a symbol needs, every value set
 * as text. Ages and hold TTLs tick every second from the server's clock.
 */
import { byId, el, setText } from './dom.js';
import { age, duration, serverNow } from './format.js';

/** Status → colour class and sort rank. Anything else from Redis is UNKNOWN. */
const STATUS = {
  MANUAL_REQUIRED: 0,
  HOLD: 1,
  UNKNOWN: 2,
  DRIFT: 3,
  NONE: 4,
  REPAIRED: 5,
  OK: 6,
};
const COLUMNS = ['symbol', 'exchange', 'ledger', 'diff', 'status', 'reason', 'hold', 'ttl', 'age'];

const rows = new Map();
let onSelect = () => undefined;

function statusOf(data) {
  return Object.hasOwn(STATUS, data.status) ? data.status : 'UNKNOWN';
}

function needsAttention(data) {
  return data.hold !== null || !['OK', 'REPAIRED', 'NONE'].includes(statusOf(data));
}

function amount(value, problem) {
  return value ?? problem ?? '-';
}

function createRow(symbol) {
  const cells = {};
  const tr = el('tr');
  tr.dataset.symbol = symbol;
  for (const name of COLUMNS) {
    cells[name] = el('td', { className: `c-${name}` });
    tr.append(cells[name]);
  }
  tr.addEventListener('click', () => onSelect(symbol));
  return { tr, cells, data: null };
}

function paint(entry) {
  const data = entry.data;
  const status = statusOf(data);
  const { cells, tr } = entry;
  setText(cells.symbol, data.symbol);
  setText(cells.exchange, amount(data.exchange, data.exchange_problem));
  setText(cells.ledger, amount(data.ledger, data.ledger_problem));
  setText(cells.diff, data.diff ?? '-');
  setText(
    cells.status,
    status === 'UNKNOWN' ? `? ${data.status_text ?? ''}` : status === 'NONE' ? '-' : status,
  );
  setText(cells.reason, data.reason ?? '');
  cells.reason.title = data.reason ?? '';
  setText(cells.hold, data.hold === null ? '' : data.hold.owner);
  tr.className = `st-${status}${data.hold === null ? '' : ' has-hold'}`;
  tick(entry);
}

function tick(entry) {
  const data = entry.data;
  const ttl =
    data.hold === null
      ? ''
      : data.hold.expires_ms === null
        ? 'no expiry'
        : duration(data.hold.expires_ms - serverNow());
  setText(entry.cells.ttl, ttl);
  setText(entry.cells.age, age(data.snapshot_ms));
}

function visible(entry, filter, problemsOnly) {
  if (filter !== '' && !entry.data.symbol.includes(filter)) return false;
  return !problemsOnly || needsAttention(entry.data);
}

export function applyFilter() {
  const filter = byId('filter').value.trim().toUpperCase();
  const problemsOnly = byId('problems-only').checked;
  let shown = 0;
  for (const entry of rows.values()) {
    entry.tr.hidden = !visible(entry, filter, problemsOnly);
    if (!entry.tr.hidden) shown += 1;
  }
  setText(byId('shown'), `${shown} of ${rows.size} symbols`);
}

function sortRows() {
  const sorted = [...rows.values()].sort(
    (a, b) =>
      STATUS[statusOf(a.data)] - STATUS[statusOf(b.data)] ||
      Number(b.data.hold !== null) - Number(a.data.hold !== null) ||
      (a.data.symbol < b.data.symbol ? -1 : 1),
  );
  const body = byId('desk-rows');
  sorted.forEach((entry, i) => {
    if (body.children[i] !== entry.tr) body.insertBefore(entry.tr, body.children[i] ?? null);
  });
}

/** Applies changed rows; returns how many rows the table has. */
export function updateRows(changed) {
  let reorder = false;
  for (const data of changed) {
    let entry = rows.get(data.symbol);
    if (entry === undefined) {
      entry = createRow(data.symbol);
      rows.set(data.symbol, entry);
      reorder = true;
    } else if (
      statusOf(entry.data) !== statusOf(data) ||
      (entry.data.hold === null) !== (data.hold === null)
    ) {
      reorder = true;
    }
    entry.data = data;
    paint(entry);
  }
  if (reorder) sortRows();
  if (changed.length > 0) applyFilter();
  return rows.size;
}

export function tickRows() {
  for (const entry of rows.values()) tick(entry);
}

export function statusCounts() {
  const counts = {};
  let holds = 0;
  for (const entry of rows.values()) {
    const status = statusOf(entry.data);
    counts[status] = (counts[status] ?? 0) + 1;
    if (entry.data.hold !== null) holds += 1;
  }
  return { counts, holds };
}

export function markSelected(symbol) {
  for (const entry of rows.values())
    entry.tr.classList.toggle('selected', entry.data.symbol === symbol);
}

export function onRowSelect(handler) {
  onSelect = handler;
}
