/**
 * What the demo watches, from its own Redis connections, the way an operator would:
 * the reconcile events stream (tailed with a blocking XREAD), each symbol's snapshot,
 * ledger, reconcile state and hold (the shared symbol-state reader: one round trip per
 * refresh, decoded as `posguard status` decodes it), and the brain's metrics endpoint (bad
 * input counters, plan lag).
 */
import type { Redis } from 'ioredis';
import { type Amount, formatAmount } from '../../domain/amount.js';
import { fieldsToRecord } from '../../domain/apply-result.js';
import { streamIdMs } from '../../domain/identifiers.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { Keys } from '../../redis/keys.js';
import { type SymbolStateOf, symbolStateProjection } from '../../redis/symbol-state.js';
import { readSymbolStates } from '../../redis/symbol-state-reader.js';
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

/** Snapshot, ledger (and the lot size for its ε), state hash, PTTL of the hold. */
const OBSERVED = symbolStateProjection(['snapshot', 'ledger', 'state', 'holdTtl']);
type Observed = SymbolStateOf<'snapshot' | 'ledger' | 'state' | 'holdTtl'>;

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

  /** Re-reads every symbol's snapshot, ledger, state and hold in one round trip. */
  async refresh(): Promise<void> {
    const { redis, keys, symbols, nowMs } = this.options;
    const states = await readSymbolStates(redis, keys, symbols, OBSERVED);
    const now = nowMs();
    this.#views = states.map((state) => toView(state, now));
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

function toView(observed: Observed, nowMs: number): SymbolView {
  const { symbol, snapshot, ledger, holdTtl } = observed;
  const state = observed.state.kind === 'ok' ? observed.state.state : null;
  return {
    symbol,
    exchange: snapshot.kind === 'ok' ? amountText(snapshot.snapshot.amount) : snapshot.kind,
    snapshotAgeSec: snapshot.kind === 'ok' ? (nowMs - snapshot.snapshot.takenMs) / 1000 : null,
    snapshotTakenMs: snapshot.kind === 'ok' ? snapshot.snapshot.takenMs : null,
    ledger: ledger.kind === 'ok' ? amountText(ledger.ledger.amount) : ledger.kind,
    status: state?.status ?? state?.unknownStatus ?? '—',
    reason: state?.reason ?? '',
    holdTtlSec: holdTtl.ttlMs === null ? null : holdTtl.ttlMs / 1000,
    holdBy: state?.holdBy ?? '',
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
