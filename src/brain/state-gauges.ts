/**
 * `p33_ledger_amt{symbol}` and `p33_snapshot_age_sec{symbol}` as Redis holds them (SPEC §9):
 * whoever wrote the key — this brain's fills or polls, the reconcile engine's init and
 * repairs, an operator's `posguard ledger set`, another brain instance — for every
 * allowlisted symbol, from start and after a restart.
 *
 * Read when they are collected (a Prometheus scrape of /metrics), the way exporters do:
 * ONE round trip of the shared symbol-state reader for every allowlisted symbol (snapshot,
 * ledger and the lot size whose ε the ledger is decoded with, as every other reader decodes
 * it — the brain's rules, `posguard status`, the web page). Scrapes closer than
 * `MIN_READ_GAP_MS` share one read; a read that takes longer than `READ_WAIT_MS` (Redis slow
 * or down) does not hold the scrape — the last values are shown, with ages grown to now.
 * No timer runs, so the cost is one read per scrape (15 s by default): measured in
 * docs/position-state-brain.md.
 *
 * - Snapshot age = now − the snapshot's own time, computed at the scrape. **+Inf** when
 *   there is no usable snapshot — never written, expired, of the wrong type, undecodable —
 *   from the first scrape on, so `P33SnapshotStale` (> 30 s for 1 m) fires for a symbol
 *   that is never written (unknown to the exchange, stuck in hedge mode since before its key
 *   existed).
 * - Ledger amount = the decoded amount; the series is absent while Redis holds no valid
 *   ledger for the symbol (missing, wrong type, undecodable).
 * - A failed read keeps the last values (ages keep growing); it is counted in
 *   `p33_loop_errors_total{component="state-gauges"}` and logged once per outage.
 */
import type { Redis } from 'ioredis';
import type { LedgerRead } from '../domain/ledger.js';
import type { SnapshotRead } from '../domain/snapshot.js';
import type { Clock } from '../domain/time.js';
import type { Logger } from '../observability/logger.js';
import type { Keys } from '../redis/keys.js';
import { type Scheduler, settleWithin, systemScheduler } from '../runtime/clock.js';
import { symbolStateProjection } from '../redis/symbol-state.js';
import { readSymbolStates } from '../redis/symbol-state-reader.js';
import type { BrainMetrics } from './metrics.js';
import { OutageLog } from './outage-log.js';

/** Scrapes closer than this share one Redis read. */
export const MIN_READ_GAP_MS = 1000;
/** A scrape waits at most this long for the read; then it shows the last values. */
export const READ_WAIT_MS = 2000;

export interface StateGaugesOptions {
  redis: Redis;
  keys: Keys;
  allowlist: readonly string[];
  clock: Clock;
  /** Times the scrape's wait for the read (default: the system's timers). */
  scheduler?: Scheduler;
  metrics: BrainMetrics;
  logger: Logger;
}

/** Three reads per symbol: snapshot, ledger, lot size. */
const GAUGE_PARTS = symbolStateProjection(['snapshot', 'ledger']);

export class StateGauges {
  /** Snapshot time per symbol as last read; null = no usable snapshot. */
  private readonly takenMs = new Map<string, number | null>();
  private readonly outage: OutageLog;
  private reading: Promise<void> | null = null;
  private lastReadMs = -Infinity;

  constructor(private readonly options: StateGaugesOptions) {
    this.outage = new OutageLog(options.logger, 'gauge read (ledger, snapshot age)', () =>
      options.clock.nowMs(),
    );
    for (const symbol of options.allowlist) this.takenMs.set(symbol, null);
  }

  /** From now on every collection of the two gauges reads Redis first. */
  start(): void {
    this.showAges();
    this.options.metrics.beforeStateCollect.hook = () => this.refresh();
  }

  async stop(): Promise<void> {
    this.options.metrics.beforeStateCollect.hook = null;
    await this.reading;
  }

  /** Called before the gauges are collected. Never rejects. */
  async refresh(): Promise<void> {
    if (this.options.clock.nowMs() - this.lastReadMs >= MIN_READ_GAP_MS) {
      this.reading ??= this.read().finally(() => {
        this.reading = null;
      });
    }
    if (this.reading !== null) {
      await settleWithin(this.options.scheduler ?? systemScheduler, this.reading, READ_WAIT_MS);
    }
    this.showAges();
  }

  /** One read of every allowlisted symbol. Never throws: a failure is counted and logged. */
  async read(): Promise<void> {
    const { redis, keys, allowlist, metrics, clock } = this.options;
    this.lastReadMs = clock.nowMs();
    try {
      const states = await readSymbolStates(redis, keys, allowlist, GAUGE_PARTS);
      for (const { symbol, snapshot, ledger } of states) {
        this.takeSnapshot(symbol, snapshot);
        this.showLedger(symbol, ledger);
      }
      this.outage.ok();
    } catch (error) {
      metrics.loopErrorsTotal.inc({ component: 'state-gauges' });
      this.outage.failed(error, { hint: 'the gauges keep their last values; ages keep growing' });
    }
  }

  private takeSnapshot(symbol: string, read: SnapshotRead): void {
    this.takenMs.set(symbol, read.kind === 'ok' ? read.snapshot.takenMs : null);
  }

  private showLedger(symbol: string, read: LedgerRead): void {
    if (read.kind === 'ok')
      this.options.metrics.ledgerAmt.set({ symbol }, read.ledger.amount.toNumber());
    else this.options.metrics.ledgerAmt.remove({ symbol });
  }

  private showAges(): void {
    const nowMs = this.options.clock.nowMs();
    for (const [symbol, takenMs] of this.takenMs) {
      const age = takenMs === null ? Infinity : Math.max(0, nowMs - takenMs) / 1000;
      this.options.metrics.snapshotAgeSec.set({ symbol }, age);
    }
  }
}
