/**
 * The page: one server-sent-event stream (/api/stream) brings the desk, the heartbeats, the
 * counters and the events; everything is rendered as text. The stream reconnects by itself
 * when the page's server restarts; a Redis outage is reported by the server and shown here.
 */
import { byId, clear, el, setText } from './dom.js';
import {
  applyFilter,
  markSelected,
  onRowSelect,
  statusCounts,
  tickRows,
  updateRows,
} from './desk-table.js';
import { addLiveEvents, onEventSymbol } from './events.js';
import { age, clockTime, duration, syncClock } from './format.js';
import { hideHistory, showHistory } from './history.js';

const state = {
  redis: null,
  connected: false,
  readMs: null,
  heartbeats: null,
  symbols: null,
  rendered: false,
};

function banner() {
  const node = byId('banner');
  let text = '';
  if (!state.connected) text = 'Connection to the page server lost — reconnecting…';
  else if (state.redis?.state === 'down') {
    text =
      `Redis is down or unreachable since ${clockTime(state.redis.since_ms)}` +
      (state.redis.error ? ` (${state.redis.error})` : '') +
      ` — showing the last state read at ${clockTime(state.readMs)}; retrying`;
  } else if (state.redis?.state === 'unknown') text = 'Reading Redis…';
  node.hidden = text === '';
  node.className = state.redis?.state === 'down' || !state.connected ? 'banner down' : 'banner';
  setText(node, text);
  byId('desk').classList.toggle('stale', state.redis?.state === 'down' || !state.connected);
}

function heartbeat(label, beat) {
  const up = beat !== null && beat !== undefined && beat.present && beat.problem === null;
  const facts = up
    ? Object.entries(beat.facts)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')
    : '';
  const text = !beat?.present
    ? `${label}: no heartbeat`
    : beat.problem !== null
      ? `${label}: unreadable heartbeat (${beat.problem})`
      : `${label}: beat ${age(beat.ts_ms)} ago`;
  return el('span', { className: `beat ${up ? 'up' : 'down'}`, text, title: facts });
}

function renderHeartbeats() {
  const node = byId('heartbeats');
  clear(node);
  if (state.heartbeats === null) return;
  node.append(
    heartbeat('engine', state.heartbeats.engine),
    heartbeat('brain', state.heartbeats.brain),
  );
}

function renderStatusCounts() {
  const { counts, holds } = statusCounts();
  const node = byId('status-counts');
  clear(node);
  for (const status of ['OK', 'REPAIRED', 'DRIFT', 'HOLD', 'MANUAL_REQUIRED', 'UNKNOWN', 'NONE']) {
    if (counts[status])
      node.append(
        el('span', {
          className: `count st-${status}`,
          text: `${status === 'NONE' ? 'no state' : status} ${counts[status]}`,
        }),
      );
  }
  node.append(el('span', { className: 'count', text: `holds ${holds}` }));
}

function renderPermits(permits, windowSize) {
  const node = byId('permit-counts');
  clear(node);
  if (permits === null || permits === undefined) return;
  const since = permits.oldest_ms === null ? '' : ` since ${clockTime(permits.oldest_ms)}`;
  node.append(
    el('span', {
      className: 'muted',
      text: `permits, last ${permits.plans} plans (window ${windowSize})${since}:`,
    }),
    el('span', { className: 'count allow', text: `allowed ${permits.allow}` }),
    el('span', { className: 'count deny', text: `denied ${permits.deny}` }),
  );
  for (const [reason, n] of Object.entries(permits.deny_by_reason).sort((a, b) => b[1] - a[1])) {
    node.append(el('span', { className: 'count deny-reason', text: `${reason} ${n}` }));
  }
  for (const name of ['duplicate', 'pending', 'ignored', 'bad']) {
    if (permits[name] > 0)
      node.append(el('span', { className: 'count', text: `${name} ${permits[name]}` }));
  }
}

/** A role as one line: its leader and epoch, "no leader", or its problems. */
function roleText(role) {
  if (role.state === 'leader') {
    const left = role.lease_ttl_ms === null ? '' : `, lease ${duration(role.lease_ttl_ms)} left`;
    return `${role.role}: leader ${role.holder} @${role.leader_epoch}${left}`;
  }
  if (role.state === 'none') {
    const n = role.campaigners.length;
    return `${role.role}: no leader${n > 0 ? ` (${n} campaigning)` : ''}`;
  }
  return `${role.role}: PROBLEM — ${role.problems.join('; ')}`;
}

/** Instances and leaders (SPEC §11): src/domain/ha-state.ts judged them; shown as text. */
function renderInstances(view) {
  const section = byId('instances');
  section.hidden = view === null || view === undefined;
  if (section.hidden) return;
  const leaders = byId('leaders');
  clear(leaders);
  for (const role of view.roles) {
    const bad = role.state === 'problem' || (role.state === 'none' && role.campaigners.length > 0);
    leaders.append(el('span', { className: bad ? 'count deny' : 'count', text: roleText(role) }));
  }
  const body = byId('instance-rows');
  clear(body);
  for (const instance of view.instances) {
    const r = instance.record;
    const leads = r === null ? '' : r.leader_of.map((l) => `${l.role}@${l.epoch}`).join(' ');
    body.append(
      el('tr', {}, [
        el('td', { text: instance.service }),
        el('td', { text: instance.id }),
        el('td', { text: r === null ? '' : r.version }),
        el('td', { text: r === null ? '' : r.roles.join(' ') }),
        el('td', { text: leads || (r === null ? '' : '-') }),
        el('td', { text: r === null ? '' : age(r.started_ms) }),
        el('td', { text: instance.ttl_ms === null ? 'no TTL' : duration(instance.ttl_ms) }),
        el('td', { text: instance.problem ?? '' }),
      ]),
    );
  }
}

function onDesk(message) {
  syncClock(message.now_ms);
  state.redis = message.redis;
  if (message.read_ms !== null) state.readMs = message.read_ms;
  if (message.heartbeats !== null) state.heartbeats = message.heartbeats;
  const shown = updateRows(message.rows);
  if (!state.rendered && state.symbols !== null && shown === state.symbols) {
    // User timing: when the whole table is first on screen (the benchmark reads it).
    state.rendered = true;
    performance.mark('posguard:desk-rendered');
  }
  renderStatusCounts();
  renderHeartbeats();
  renderPermits(message.permits, message.permit_window);
  renderInstances(message.ha);
  banner();
}

function select(symbol) {
  markSelected(symbol);
  void showHistory(symbol);
}

function connect() {
  const source = new EventSource('/api/stream');
  source.addEventListener('open', () => {
    state.connected = true;
    banner();
  });
  source.addEventListener('error', () => {
    state.connected = false;
    banner();
  });
  source.addEventListener('hello', (e) => {
    const hello = JSON.parse(e.data);
    state.symbols = hello.symbols;
    setText(
      byId('prefix'),
      `prefix ${hello.prefix} · ${hello.symbols} symbols · refresh ${hello.refresh_ms} ms`,
    );
  });
  source.addEventListener('desk', (e) => onDesk(JSON.parse(e.data)));
  let first = true;
  source.addEventListener('events', (e) => {
    addLiveEvents(JSON.parse(e.data), first);
    first = false;
  });
  source.addEventListener('open', () => {
    first = true;
  });
}

onRowSelect(select);
onEventSymbol(select);
byId('history-close').addEventListener('click', () => {
  hideHistory();
  markSelected(null);
});
byId('filter').addEventListener('input', applyFilter);
byId('problems-only').addEventListener('change', applyFilter);
setInterval(() => {
  tickRows();
  renderHeartbeats();
}, 1000);
connect();
banner();
