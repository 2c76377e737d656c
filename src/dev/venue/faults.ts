/**
 * Faults the venue can inject, each for the next N responses, for D ms, or until
 * cleared, on one endpoint path or on all Binance endpoints.
 */
import { PosguardError } from '../../errors.js';

export type FaultKind =
  | 'latency'
  | 'http_429'
  | 'http_418'
  | 'http_5xx'
  | 'malformed_json'
  | 'wrong_types'
  | 'timestamp_outside_recv_window'
  | 'invalid_api_key'
  | 'hedge_mode'
  | 'omit_symbols'
  | 'hold_reply';

export const FAULT_KINDS: readonly FaultKind[] = [
  'latency',
  'http_429',
  'http_418',
  'http_5xx',
  'malformed_json',
  'wrong_types',
  'timestamp_outside_recv_window',
  'invalid_api_key',
  'hedge_mode',
  'omit_symbols',
  'hold_reply',
];

export interface FaultSpec {
  kind: FaultKind;
  /** Endpoint path (`/fapi/v2/positionRisk`); all Binance endpoints when absent. */
  path?: string;
  /** Applies to the next `count` matching responses. */
  count?: number;
  /** Applies for `durationMs` from now. Neither count nor duration: until cleared. */
  durationMs?: number;
  /**
   * latency: added delay before the request is handled (the answer reflects the account
   * after the delay). hold_reply: the answer is computed when the request arrives and sent
   * `ms` later — a reply taken before whatever happens meanwhile, delivered late.
   */
  ms?: number;
  /** http_429 / http_418: the Retry-After header, seconds. */
  retryAfterSec?: number;
  /** http_5xx: 500, 502, 503 or 504 (default 503). */
  status?: number;
  /** hedge_mode / omit_symbols: the symbols affected. */
  symbols?: string[];
}

export interface ActiveFault extends FaultSpec {
  id: number;
  untilMs: number | null;
  remaining: number | null;
}

/** Kinds that replace the whole response, checked in the order faults were added. */
const REPLACING: ReadonlySet<FaultKind> = new Set([
  'http_429',
  'http_418',
  'http_5xx',
  'timestamp_outside_recv_window',
  'invalid_api_key',
]);

export class FaultRegistry {
  #faults: ActiveFault[] = [];
  #nextId = 1;

  add(spec: FaultSpec, nowMs: number): ActiveFault {
    validateFault(spec);
    const fault: ActiveFault = {
      ...spec,
      id: this.#nextId++,
      untilMs: spec.durationMs === undefined ? null : nowMs + spec.durationMs,
      remaining: spec.count ?? null,
    };
    this.#faults.push(fault);
    return fault;
  }

  list(nowMs: number): ActiveFault[] {
    this.#prune(nowMs);
    return this.#faults.map((f) => ({ ...f }));
  }

  clear(): void {
    this.#faults = [];
  }

  /** Total added latency for this request (consumes counted latency faults). */
  latencyMs(path: string, nowMs: number): number {
    let total = 0;
    for (const fault of this.#matching(path, nowMs, (k) => k === 'latency')) {
      total += fault.ms ?? 0;
      this.#consume(fault);
    }
    return total;
  }

  /** The first whole-response fault for this request, consumed. */
  takeReplacing(path: string, nowMs: number): ActiveFault | null {
    return this.#take(path, nowMs, (k) => REPLACING.has(k));
  }

  /** A body-shaping fault of this kind for this request, consumed. */
  take(kind: FaultKind, path: string, nowMs: number): ActiveFault | null {
    return this.#take(path, nowMs, (k) => k === kind);
  }

  #take(path: string, nowMs: number, accept: (kind: FaultKind) => boolean): ActiveFault | null {
    const fault = this.#matching(path, nowMs, accept)[0] ?? null;
    if (fault) this.#consume(fault);
    return fault;
  }

  #matching(path: string, nowMs: number, accept: (kind: FaultKind) => boolean): ActiveFault[] {
    if (this.#faults.length === 0) return [];
    this.#prune(nowMs);
    return this.#faults.filter((f) => accept(f.kind) && (f.path === undefined || f.path === path));
  }

  #consume(fault: ActiveFault): void {
    if (fault.remaining === null) return;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.#faults = this.#faults.filter((f) => f !== fault);
  }

  #prune(nowMs: number): void {
    this.#faults = this.#faults.filter(
      (f) => (f.untilMs === null || f.untilMs > nowMs) && (f.remaining === null || f.remaining > 0),
    );
  }
}

function positiveInteger(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

export function validateFault(spec: FaultSpec): void {
  const problems: string[] = [];
  if (!FAULT_KINDS.includes(spec.kind))
    problems.push(`kind must be one of ${FAULT_KINDS.join(', ')}`);
  if (spec.path !== undefined && (typeof spec.path !== 'string' || !spec.path.startsWith('/')))
    problems.push('path must start with /');
  if (spec.count !== undefined && !positiveInteger(spec.count))
    problems.push('count must be a positive integer');
  if (spec.durationMs !== undefined && !positiveInteger(spec.durationMs))
    problems.push('durationMs must be a positive integer');
  if ((spec.kind === 'latency' || spec.kind === 'hold_reply') && !positiveInteger(spec.ms))
    problems.push(`${spec.kind} needs ms (positive integer)`);
  if (
    spec.retryAfterSec !== undefined &&
    !(typeof spec.retryAfterSec === 'number' && spec.retryAfterSec >= 0)
  ) {
    problems.push('retryAfterSec must be a number ≥ 0');
  }
  if (spec.status !== undefined && ![500, 502, 503, 504].includes(spec.status))
    problems.push('status must be 500, 502, 503 or 504');
  if (
    (spec.kind === 'hedge_mode' || spec.kind === 'omit_symbols') &&
    !(Array.isArray(spec.symbols) && spec.symbols.length > 0)
  ) {
    problems.push(`${spec.kind} needs symbols (non-empty array)`);
  }
  if (problems.length > 0)
    throw new PosguardError('USAGE', `invalid fault: ${problems.join('; ')}`);
}
