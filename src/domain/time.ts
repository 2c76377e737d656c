/**
 * Time values in records (SPEC §2): `ts_epoch` is integer seconds, `ts_ms` milliseconds.
 * Components never read the clock themselves; "now" comes from a Clock.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
}

/** Values below this are seconds, above it milliseconds (year 5138 in seconds). */
const SECONDS_LIMIT = 1e11;

/** Reads a timestamp given in seconds or milliseconds (decimals allowed) as ms. */
export function parseTimestampMs(raw: unknown): number | null {
  const text = typeof raw === 'number' ? raw : typeof raw === 'string' ? raw.trim() : null;
  if (text === null || text === '') return null;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) return null;
  const ms = value < SECONDS_LIMIT ? value * 1000 : value;
  return ms > 1e14 ? null : Math.round(ms);
}

export function epochSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** Age in seconds with millisecond resolution. */
export function ageSec(nowMs: number, thenMs: number): number {
  return (nowMs - thenMs) / 1000;
}
