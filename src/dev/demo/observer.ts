/**
 * What the demo watches, from its own Redis connections, the way an operator would:
 * the reconcile events stream (tailed with a blocking XREAD), each symbol's snapshot,
 * ledger, reconcile state and hold (one pipelined read per refresh), and the brain's
 * metrics endpoint (bad input counters, plan lag).
 */
import type { Redis } from 'ioredis';
import { type Amount, formatAmount } from '../../domain/amount.js';
import { fieldsToRecord } from '../../domain/apply-result.js';
import { streamIdMs } from '../../domain/identifiers.js';
import { decodeLedger } from '../../domain/ledger.js';
import { decodeSnapshot } from '../../domain/snapshot.js';
import { DEFAULT_EPSILON } from '../../domain/amount.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { Keys } from '../../redis/keys.js';
import type { ObservedEvent } from './signals.js';

export interface SymbolView {
  symbol: string;
  exchange: string;
  snapshotAgeSec: number | null;
  snapshotTakenMs: number | null;
  ledger: string;
  status: string;
  reason: string;
  holdTtlSec: number | null;
  holdBy: string;
}

const MAX_EVENTS = 5000;

export class DemoObserver {
  readonly events: ObservedEvent[] = [];
  #views: SymbolView[] = [];
  #lastId = '0-0';
  #running = false;
  #loop: Promise<void> | null = null;
  #failing = false;

  constructor(
    private readonly options: {
      reader: Redis;
      redis: Redis;
      keys: Keys;
      symbols: readonly string[];
      logger: Logger;
      nowMs: () => number;
    },
  ) {}

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#tail();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }

  views(): readonly SymbolView[] {
    return this.#views;
  }

  count(event: string): number {
    return this.events.filter((e) => e.event === event).length;
  }

  /** Re-reads every symbol's snapshot, ledger, state and hold in one pipeline. */
  async refresh(): Promise<void> {
    const { redis, keys, symbols, nowMs } = this.options;
    const pipeline = redis.pipeline();
    for (const symbol of symbols) {
      pipeline
        .hgetall(keys.snapshot(symbol))
        .hgetall(keys.ledger(symbol))
        .hgetall(keys.reconcileState(symbol))
        .pttl(keys.hold(symbol));
    }
    const replies = (await pipeline.exec()) ?? [];
    const value = (i: number): unknown => (replies[i]?.[0] ? null : replies[i]?.[1]);
    const now = nowMs();
    this.#views = symbols.map((symbol, index) => {
      const base = index * 4;
      return toView(symbol, {
        snapshot: (value(base) ?? {}) as Record<string, string>,
        ledger: (value(base + 1) ?? {}) as Record<string, string>,
        state: (value(base + 2) ?? {}) as Record<string, string>,
        holdPttl: typeof value(base + 3) === 'number' ? (value(base + 3) as number) : -2,
        nowMs: now,
      });
    });
  }

  async #tail(): Promise<void> {
    const { reader, keys, logger } = this.options;
    while (this.#running) {
      try {
        const reply = await reader.xread(
          'COUNT',
          500,
          'BLOCK',
          250,
          'STREAMS',
          keys.reconcileEventsStream,
          this.#lastId,
        );
        for (const [id, flat] of reply?.[0]?.[1] ?? []) {
          this.#lastId = id;
          this.events.push(toEvent(id, fieldsToRecord(flat)));
        }
        if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
        if (this.#failing) logger.info('demo observer: reading events again');
        this.#failing = false;
      } catch (error) {
        if (!this.#failing)
          logger.warn({ err: errorMessage(error) }, 'demo observer: event read failed');
        this.#failing = true;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }
}

function toEvent(id: string, fields: Record<string, string>): ObservedEvent {
  const tsMs = Number(fields.ts_ms);
  return {
    id,
    event: fields.event ?? '',
    symbol: fields.symbol ?? '',
    reason: fields.reason ?? '',
    tsMs: Number.isFinite(tsMs) && tsMs > 0 ? tsMs : streamIdMs(id),
    fields,
  };
}

function amountText(amount: Amount | null): string {
  return amount === null ? '—' : formatAmount(amount);
}

function toView(
  symbol: string,
  raw: {
    snapshot: Record<string, string>;
    ledger: Record<string, string>;
    state: Record<string, string>;
    holdPttl: number;
    nowMs: number;
  },
): SymbolView {
  const snapshot = decodeSnapshot(raw.snapshot);
  const ledger = decodeLedger(raw.ledger, DEFAULT_EPSILON);
  return {
    symbol,
    exchange: snapshot.kind === 'ok' ? amountText(snapshot.snapshot.amount) : snapshot.kind,
    snapshotAgeSec: snapshot.kind === 'ok' ? (raw.nowMs - snapshot.snapshot.takenMs) / 1000 : null,
    snapshotTakenMs: snapshot.kind === 'ok' ? snapshot.snapshot.takenMs : null,
    ledger: ledger.kind === 'ok' ? amountText(ledger.ledger.amount) : ledger.kind,
    status: raw.state.status ?? '—',
    reason: raw.state.reason ?? '',
    holdTtlSec: raw.holdPttl >= 0 ? raw.holdPttl / 1000 : null,
    holdBy: raw.state.hold_by ?? '',
  };
}

/** Reads one counter family from a Prometheus text exposition: labels text → value. */
export function parseCounter(text: string, name: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const value = Number(match[3]);
    if (Number.isFinite(value)) values.set(match[2] ?? '', value);
  }
  return values;
}

/** Scrapes a metrics endpoint; null when it does not answer. */
export async function scrapeMetrics(url: string): Promise<string | null> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return response.ok ? await response.text() : null;
  } catch {
    return null;
  }
}
