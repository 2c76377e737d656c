/**
 * The engine's heartbeat (SPEC §1): `P:reconcile:heartbeat`, JSON, rewritten every cycle
 * with a TTL of max(5 s, 3 × cadence). The brain denies permits when it is absent, so a
 * dead engine can never leave trading running on holds that silently lapse (LESSONS #15).
 */
export interface Heartbeat {
  ts_ms: number;
  ts_epoch: number;
  pid: number;
  host: string;
  cycle: number;
  symbols: number;
  cadence_sec: number;
}

export function heartbeatTtlMs(cadenceSec: number): number {
  return Math.max(5000, Math.round(3 * cadenceSec * 1000));
}

export function encodeHeartbeat(beat: Omit<Heartbeat, 'ts_epoch'>): string {
  const full: Heartbeat = { ...beat, ts_epoch: Math.floor(beat.ts_ms / 1000) };
  return JSON.stringify({
    ts_ms: full.ts_ms,
    ts_epoch: full.ts_epoch,
    pid: full.pid,
    host: full.host,
    cycle: full.cycle,
    symbols: full.symbols,
    cadence_sec: full.cadence_sec,
  });
}
