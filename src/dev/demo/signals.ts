/**
 * How the demo decides that an injected fault was caught: each fault names the signals
 * posguard must produce — a reconcile event with a reason, a permit denied for a reason,
 * or a check of its own — and a signal counts only when it appeared after the injection
 * and for the right symbol. Pure: observations in, first sighting out.
 */
export interface ObservedEvent {
  id: string;
  event: string;
  symbol: string;
  reason: string;
  /** The event's own time (ts_ms), else the stream id's time. */
  tsMs: number;
  fields: Readonly<Record<string, string>>;
}

export interface ObservedPermit {
  planId: string;
  symbol: string;
  publishedMs: number;
  allow: boolean;
  reason: string | null;
  failed: readonly string[];
  seenMs: number;
}

export type Signal =
  /** Any of `events` (each `EVENT/reason` or `EVENT`) on the symbol. */
  | { kind: 'event'; events: readonly string[]; symbol?: string }
  | { kind: 'deny'; reason: string; symbol?: string }
  | { kind: 'check'; name: string; seenAtMs(): number | null };

export interface SignalReport {
  signal: string;
  seenAtMs: number | null;
}

export function describeSignal(signal: Signal): string {
  switch (signal.kind) {
    case 'event':
      return `event ${signal.events.join(' or ')}${signal.symbol ? ` on ${signal.symbol}` : ''}`;
    case 'deny':
      return `permit denied (${signal.reason})${signal.symbol ? ` on ${signal.symbol}` : ''}`;
    case 'check':
      return signal.name;
  }
}

/** First time the signal was seen at or after `sinceMs`; null when not (yet) seen. */
export function firstSighting(
  signal: Signal,
  sinceMs: number,
  events: readonly ObservedEvent[],
  permits: readonly ObservedPermit[],
): number | null {
  switch (signal.kind) {
    case 'event': {
      const match = events.find(
        (e) =>
          e.tsMs >= sinceMs &&
          signal.events.some((want) => want === e.event || want === `${e.event}/${e.reason}`) &&
          (signal.symbol === undefined || e.symbol === signal.symbol),
      );
      return match?.tsMs ?? null;
    }
    case 'deny': {
      let first: number | null = null;
      for (const p of permits) {
        if (p.allow || p.publishedMs < sinceMs) continue;
        if (signal.symbol !== undefined && p.symbol !== signal.symbol) continue;
        if (!p.failed.includes(signal.reason) && p.reason !== signal.reason) continue;
        if (first === null || p.seenMs < first) first = p.seenMs;
      }
      return first;
    }
    case 'check':
      return signal.seenAtMs();
  }
}

export function reportSignals(
  signals: readonly Signal[],
  sinceMs: number,
  events: readonly ObservedEvent[],
  permits: readonly ObservedPermit[],
): SignalReport[] {
  return signals.map((signal) => ({
    signal: describeSignal(signal),
    seenAtMs: firstSighting(signal, sinceMs, events, permits),
  }));
}
