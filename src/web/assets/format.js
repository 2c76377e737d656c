/**
 * Times and durations as the page shows them. "Now" is the server's clock: the page keeps
 * the offset between it and the browser's, so ages do not depend on the browser's clock.
 */
let offsetMs = 0;

export function syncClock(serverNowMs) {
  if (typeof serverNowMs === 'number') offsetMs = serverNowMs - Date.now();
}

export function serverNow() {
  return Date.now() + offsetMs;
}

export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 120) return `${Math.round(s)}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  if (s < 172800)
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d`;
}

export function age(thenMs) {
  return thenMs === null || thenMs === undefined ? '-' : duration(serverNow() - thenMs);
}

export function clockTime(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) return '?';
  const d = new Date(ms);
  return d.toISOString().slice(11, 19);
}

/** The time of an event or stream entry: its ts_ms field, else the entry id's ms. */
export function entryTime(id, fields) {
  const fromField = Number(fields?.ts_ms);
  if (Number.isFinite(fromField) && fromField > 0) return fromField;
  return Number(String(id).split('-')[0]);
}
