/**
 * The reconcile engine's heartbeat (SPEC §1), encoded by the engine, decoded by the brain:
 * `P:reconcile:heartbeat`, JSON, rewritten every cycle with a TTL of max(5 s, 3 × cadence).
 * The brain denies permits when it is absent, so a dead engine can never leave trading
 * running on holds that silently lapse (LESSONS #15).
 * It also names the symbols whose commit failed in the cycle (`failing_symbols`): the engine
 * is alive but not looking after them, and the brain denies them as if it were down.
 * And it names the leader that wrote it (SPEC §11): `instance` (its id) and `epoch` (its
 * term's); only the reconcile leader can write it (the write is fenced).
 */
import { isEpoch, isInstanceId } from './leadership.js';

export interface Heartbeat {
  ts_ms: number;
  ts_epoch: number;
  /** The writing instance's id (POSGUARD_INSTANCE_ID or hostname:pid). */
  instance: string;
  /** The epoch of its `reconcile` term. */
  epoch: number;
  pid: number;
  host: string;
  cycle: number;
  symbols: number;
  cadence_sec: number;
  /** Symbols whose commit failed in this cycle (nothing written for them), sorted. */
  failing_symbols: readonly string[];
}

export function heartbeatTtlMs(cadenceSec: number): number {
  return Math.max(5000, Math.round(3 * cadenceSec * 1000));
}

export function encodeHeartbeat(beat: Omit<Heartbeat, 'ts_epoch'>): string {
  const full: Heartbeat = { ...beat, ts_epoch: Math.floor(beat.ts_ms / 1000) };
  return JSON.stringify({
    ts_ms: full.ts_ms,
    ts_epoch: full.ts_epoch,
    instance: full.instance,
    epoch: full.epoch,
    pid: full.pid,
    host: full.host,
    cycle: full.cycle,
    symbols: full.symbols,
    cadence_sec: full.cadence_sec,
    failing_symbols: full.failing_symbols,
  });
}

/** The leader a heartbeat names. */
export interface HeartbeatLeader {
  instance: string;
  epoch: number;
}

/** What the brain (and the status views) need from the heartbeat. */
export type HeartbeatRead =
  | { kind: 'missing' }
  | { kind: 'invalid'; problem: string }
  | {
      kind: 'ok';
      failingSymbols: ReadonlySet<string>;
      /** The leader that wrote it; null when it names none (an engine from before SPEC §11). */
      leader: HeartbeatLeader | null;
    };

/**
 * Decodes the heartbeat's text (null = absent). A heartbeat without `failing_symbols` (an
 * older engine) fails no symbol; one that is not a JSON object, or whose `failing_symbols`
 * is not a list of strings, is invalid: the reader cannot tell which symbols are looked
 * after, so it must treat the engine as down for all of them. `instance` and `epoch` are
 * optional (older engines wrote neither): the leader is null unless both are there and
 * valid — a malformed leader is reported as none, never guessed, and does not make the
 * heartbeat invalid (which symbols are looked after does not depend on it).
 */
export function decodeHeartbeat(raw: string | null): HeartbeatRead {
  if (raw === null) return { kind: 'missing' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { kind: 'invalid', problem: 'heartbeat is not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { kind: 'invalid', problem: 'heartbeat is not a JSON object' };
  const failing: unknown = (parsed as Record<string, unknown>).failing_symbols;
  const leader = leaderOf(parsed as Record<string, unknown>);
  if (failing === undefined) return { kind: 'ok', failingSymbols: new Set(), leader };
  if (!Array.isArray(failing) || !failing.every((s) => typeof s === 'string'))
    return { kind: 'invalid', problem: 'heartbeat failing_symbols is not a list of symbols' };
  return { kind: 'ok', failingSymbols: new Set(failing), leader };
}

function leaderOf(beat: Record<string, unknown>): HeartbeatLeader | null {
  const { instance, epoch } = beat;
  if (!isInstanceId(instance) || !isEpoch(epoch)) return null;
  return { instance, epoch };
}
