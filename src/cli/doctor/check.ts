/**
 * One line of `posguard doctor`: PASS / WARN / FAIL / SKIP with a message that names the
 * fix. Messages never carry secrets (URLs are redacted, keys are `set`/`missing`).
 */
export type CheckLevel = 'PASS' | 'WARN' | 'FAIL' | 'SKIP';

export interface CheckResult {
  name: string;
  level: CheckLevel;
  message: string;
}

export const SKEW_WARN_MS = 500;
export const SKEW_FAIL_MS = 5000;

export function check(name: string, level: CheckLevel, message: string): CheckResult {
  return { name, level, message };
}

/** Clock skew: warn above 500 ms, fail above 5 s. */
export function skewCheck(name: string, skewMs: number, against: string): CheckResult {
  const abs = Math.abs(skewMs);
  const text = `local clock ${skewMs >= 0 ? 'behind' : 'ahead of'} ${against} by ${abs.toFixed(0)} ms`;
  if (abs > SKEW_FAIL_MS)
    return check(name, 'FAIL', `${text} (> ${SKEW_FAIL_MS} ms): fix NTP on this host`);
  if (abs > SKEW_WARN_MS) return check(name, 'WARN', `${text} (> ${SKEW_WARN_MS} ms): check NTP`);
  return check(name, 'PASS', text);
}

/** Compares dotted versions: true when `version` ≥ `minimum`. */
export function versionAtLeast(version: string, minimum: string): boolean {
  const a = version.split('.').map((p) => Number.parseInt(p, 10) || 0);
  const b = minimum.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff > 0;
  }
  return true;
}

/** A heartbeat's time: JSON with ts_ms / ts_epoch / ts, or a bare timestamp. */
export function heartbeatMs(raw: string): number | null {
  const fromNumber = (value: unknown): number | null => {
    const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
    if (!Number.isFinite(n) || n <= 0) return null;
    return n < 1e11 ? n * 1000 : n;
  };
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const o = parsed as Record<string, unknown>;
      return fromNumber(o.ts_ms) ?? fromNumber(o.ts_epoch) ?? fromNumber(o.ts);
    }
    return fromNumber(parsed);
  } catch {
    return fromNumber(raw);
  }
}
