/**
 * The user-data stream watchdog (SPEC §3, LESSONS #22): a stream that is connected but
 * silent is a fault. Since 2026-04-23 Binance's retired `/ws/<listenKey>` still completes
 * the handshake and then sends nothing, so "connected" proves nothing; the REST poll is
 * the cross-check.
 *
 * Rule: when a REST snapshot shows a position change that the stream never pushed, and
 * the stream was connected before the change could have happened (this process had
 * already written the symbol's previous state while the current connection was up),
 * the stream has `graceMs` (2 s) to push it. If it does not, the stream is declared
 * silent — once per episode — and the caller reconnects it; REST stays the source. The
 * episode ends when the stream pushes anything again.
 *
 * Pure: time comes in as arguments; the caller schedules `check()` at `nextDeadlineMs()`.
 */
export const SILENCE_GRACE_MS = 2000;

export type StreamHealth = 'down' | 'up' | 'silent';

/** A position as REST or the stream showed it. */
export interface PositionSeen {
  symbol: string;
  /** The amount as the snapshot codec writes it (formatAmount). */
  amount: string;
  exchangeUpdateMs: number | null;
}

export interface RestChangeSeen extends PositionSeen {
  /** When the symbol's previous snapshot was written by this process, null if never. */
  previousMs: number | null;
}

export interface SilenceFinding {
  /** True once per episode: the moment to log, count and reconnect. */
  declared: boolean;
  /** Symbols whose change the stream did not push in time. */
  symbols: string[];
}

interface Expectation extends PositionSeen {
  sinceMs: number;
  deadlineMs: number;
}

/** Does this push carry (at least) the change REST saw? */
function covers(push: PositionSeen & { atMs: number }, change: Expectation): boolean {
  if (push.exchangeUpdateMs !== null && change.exchangeUpdateMs !== null)
    return push.exchangeUpdateMs >= change.exchangeUpdateMs;
  return push.amount === change.amount && push.atMs >= change.sinceMs;
}

export class UserStreamWatchdog {
  private connectedSinceMs: number | null = null;
  private silent = false;
  private readonly pushes = new Map<string, PositionSeen & { atMs: number }>();
  private readonly expected = new Map<string, Expectation>();

  constructor(private readonly graceMs = SILENCE_GRACE_MS) {}

  health(): StreamHealth {
    if (this.connectedSinceMs === null) return 'down';
    return this.silent ? 'silent' : 'up';
  }

  connected(nowMs: number): void {
    this.connectedSinceMs = nowMs;
  }

  /** Changes before a reconnect may never be pushed (the stream does not replay): forget them. */
  disconnected(): void {
    this.connectedSinceMs = null;
    this.expected.clear();
  }

  /** Any event from the stream. True when it ends a silent episode. */
  heard(): boolean {
    if (!this.silent) return false;
    this.silent = false;
    return true;
  }

  /** A position row the stream pushed. */
  pushed(position: PositionSeen, nowMs: number): void {
    const push = { ...position, atMs: nowMs };
    this.pushes.set(position.symbol, push);
    const waiting = this.expected.get(position.symbol);
    if (waiting && covers(push, waiting)) this.expected.delete(position.symbol);
  }

  /** REST wrote a snapshot whose amount differs from the stored one. */
  restChanged(change: RestChangeSeen, nowMs: number): void {
    const since = this.connectedSinceMs;
    // Unknown previous state, or one from before this connection: the stream cannot be
    // expected to have pushed a change it may not have been connected for.
    if (since === null || change.previousMs === null || change.previousMs < since) return;
    const candidate: Expectation = {
      symbol: change.symbol,
      amount: change.amount,
      exchangeUpdateMs: change.exchangeUpdateMs,
      sinceMs: change.previousMs,
      deadlineMs: nowMs + this.graceMs,
    };
    const push = this.pushes.get(change.symbol);
    if (push && covers(push, candidate)) return;
    const waiting = this.expected.get(change.symbol);
    // A newer change of a symbol already waiting keeps the earlier deadline.
    this.expected.set(
      change.symbol,
      waiting ? { ...candidate, deadlineMs: waiting.deadlineMs } : candidate,
    );
  }

  nextDeadlineMs(): number | null {
    let next: number | null = null;
    for (const e of this.expected.values())
      if (next === null || e.deadlineMs < next) next = e.deadlineMs;
    return next;
  }

  /** The changes overdue at `nowMs`; null when none. */
  check(nowMs: number): SilenceFinding | null {
    const overdue = [...this.expected.values()].filter((e) => e.deadlineMs <= nowMs);
    if (overdue.length === 0 || this.connectedSinceMs === null) return null;
    for (const e of overdue) this.expected.delete(e.symbol);
    const declared = !this.silent;
    this.silent = true;
    return { declared, symbols: overdue.map((e) => e.symbol).sort() };
  }
}
