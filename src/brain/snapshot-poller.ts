/**
 * The snapshot poller (SPEC §3): every `P33_POLL_SEC`, ONE positionRisk request for all
 * symbols (LESSONS #6) and ONE Redis pipeline writing every allowlisted symbol's snapshot.
 *
 * - A failed poll writes nothing: snapshots age and the rules deny (never "flat").
 * - While the client's rate-limit pause lasts, polls are skipped and counted (LESSONS #7).
 * - `requestRefresh()` (after our own fills) runs an extra poll within ~25 ms, debounced,
 *   and at most one per `REFRESH_MIN_GAP_MS` (250 ms): a steady stream of fills costs at
 *   most 4 extra positionRisk calls a second, never back-to-back polling. While the
 *   exchange reports more than `REFRESH_WEIGHT_CEILING` used weight, extra refreshes are
 *   skipped (counted) and only the regular polls run (LESSONS #7).
 *   Polls never overlap — a request during a poll runs one more poll right after it.
 * - `applyAccountUpdate()` writes user-data-stream position rows at once (source `ws`).
 */
import type { Redis } from 'ioredis';
import { encodeSnapshot } from '../domain/snapshot.js';
import type { Clock } from '../domain/time.js';
import type { AccountUpdate } from '../exchange/user-data-stream.js';
import type { FuturesRestClient } from '../exchange/types.js';
import type { Logger } from '../observability/logger.js';
import type { Keys } from '../redis/keys.js';
import type { BrainMetrics } from './metrics.js';
import { OutageLog } from './outage-log.js';
import {
  type SnapshotPlan,
  type SnapshotSource,
  planSnapshots,
  snapshotFromRow,
} from './snapshot-rows.js';
import type { Snapshot } from '../domain/snapshot.js';

export type PollOutcome = 'ok' | 'failed' | 'skipped_rate_limited';

export interface SnapshotPollerOptions {
  client: FuturesRestClient;
  redis: Redis;
  keys: Keys;
  allowlist: readonly string[];
  pollSec: number;
  snapshotTtlSec: number;
  clock: Clock;
  metrics: BrainMetrics;
  logger: Logger;
  /** positionRisk v3 omits flat symbols: the symbols the exchange lists, to read them as flat. */
  listedSymbols?: () => ReadonlySet<string>;
  positionRiskVersion?: 'v2' | 'v3';
  /** Debounce of fill-triggered refreshes. */
  refreshDelayMs?: number;
}

const AGE_GAUGE_MS = 1000;
/** Fill-triggered polls start at least this far apart (SPEC §3: "within 250 ms"). */
export const REFRESH_MIN_GAP_MS = 250;
/** Half of Binance's default 2 400/min request weight: above it, no extra refreshes. */
export const REFRESH_WEIGHT_CEILING = 1200;

export class SnapshotPoller {
  private readonly allowlist: ReadonlySet<string>;
  private readonly outage: OutageLog;
  private timers: {
    poll: NodeJS.Timeout | null;
    refresh: NodeJS.Timeout | null;
    age: NodeJS.Timeout | null;
  } = {
    poll: null,
    refresh: null,
    age: null,
  };
  private inFlight: Promise<PollOutcome> | null = null;
  private rerun = false;
  private stopped = true;
  private pausedLogged = false;
  private lastSuccess: number | null = null;
  private readonly written = new Map<string, number>();
  private lastRefreshMs = -Infinity;
  /** Last amount written per symbol, to publish only real position changes. */
  private readonly lastAmount = new Map<string, string>();
  private readonly wsWritten = new Map<string, number>();
  private readonly flagged = {
    unknown: new Set<string>(),
    hedge: new Set<string>(),
    ambiguous: new Set<string>(),
  };

  constructor(private readonly options: SnapshotPollerOptions) {
    this.allowlist = new Set(options.allowlist);
    this.outage = new OutageLog(options.logger, 'snapshot poll', () => options.clock.nowMs());
  }

  /** When the last poll succeeded (ms), null before the first. */
  lastSuccessMs(): number | null {
    return this.lastSuccess;
  }

  start(): void {
    this.stopped = false;
    this.trigger();
    this.schedulePoll();
    this.timers.age = setInterval(() => this.updateAges(), AGE_GAUGE_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of Object.values(this.timers)) if (timer) clearTimeout(timer);
    this.timers = { poll: null, refresh: null, age: null };
    await this.inFlight;
  }

  /** An extra poll soon (after a fill), debounced: many requests, one poll. */
  requestRefresh(): void {
    if (this.stopped || this.timers.refresh) return;
    const weight = this.options.client.usedWeight1m();
    if (weight !== null && weight > REFRESH_WEIGHT_CEILING) {
      this.options.metrics.pollTotal.inc({ outcome: 'refresh_skipped_weight' });
      return;
    }
    const now = this.options.clock.nowMs();
    const delay = Math.max(
      this.options.refreshDelayMs ?? 25,
      this.lastRefreshMs + REFRESH_MIN_GAP_MS - now,
    );
    this.timers.refresh = setTimeout(() => {
      this.timers.refresh = null;
      this.lastRefreshMs = this.options.clock.nowMs();
      this.trigger();
    }, delay);
  }

  /** Runs a poll now unless one is running; then one more runs right after it. */
  trigger(): void {
    if (this.inFlight) {
      this.rerun = true;
      return;
    }
    this.inFlight = this.pollOnce().finally(() => {
      this.inFlight = null;
      if (this.rerun && !this.stopped) {
        this.rerun = false;
        this.trigger();
      }
    });
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.timers.poll = setTimeout(() => {
      this.trigger();
      this.schedulePoll();
    }, this.options.pollSec * 1000);
  }

  /** One poll. Never throws: failures are logged once per outage and counted. */
  async pollOnce(): Promise<PollOutcome> {
    const { client, clock, metrics } = this.options;
    const startedMs = clock.nowMs();
    if (client.pausedUntilMs() > startedMs) {
      this.notePaused(client.pausedUntilMs());
      metrics.pollTotal.inc({ outcome: 'skipped_rate_limited' });
      return 'skipped_rate_limited';
    }
    this.pausedLogged = false;
    const endTimer = metrics.pollDuration.startTimer();
    try {
      const rows = await client.positionRisk();
      const plan = planSnapshots(rows, {
        allowlist: this.options.allowlist,
        // The request time: the snapshot is at least this old (conservative for ages).
        takenMs: startedMs,
        source: 'rest',
        ...(this.options.positionRiskVersion === 'v3' && this.options.listedSymbols
          ? { flatWhenAbsent: this.options.listedSymbols() }
          : {}),
      });
      // A user-data row written after this request was sent is newer than its answer.
      await this.write(
        plan.writes.filter(({ symbol }) => (this.wsWritten.get(symbol) ?? 0) <= startedMs),
        'rest',
      );
      this.flag(plan);
      this.lastSuccess = clock.nowMs();
      this.outage.ok();
      metrics.pollTotal.inc({ outcome: 'ok' });
      return 'ok';
    } catch (error) {
      metrics.pollTotal.inc({ outcome: 'failed' });
      metrics.loopErrorsTotal.inc({ component: 'snapshot-poller' });
      this.outage.failed(error, {
        hint: 'snapshots are not written; they age and permits deny stale_exchange_state',
      });
      return 'failed';
    } finally {
      endTimer();
      const weight = client.usedWeight1m();
      if (weight !== null) metrics.exchangeUsedWeight1m.set(weight);
    }
  }

  /** User-data stream position rows: written at once (REST polling stays the backstop). */
  async applyAccountUpdate(update: AccountUpdate): Promise<void> {
    const nowMs = this.options.clock.nowMs();
    const writes: { symbol: string; snapshot: Snapshot }[] = [];
    for (const position of update.positions) {
      if (!this.allowlist.has(position.symbol) || position.positionSide !== 'BOTH') continue;
      const row = {
        symbol: position.symbol,
        positionAmt: position.positionAmt,
        positionSide: position.positionSide,
        entryPrice: position.entryPrice,
        markPrice: null,
        leverage: null,
        unrealizedProfit: position.unrealizedProfit,
        updateTimeMs: update.transactionTimeMs ?? update.eventTimeMs,
      };
      writes.push({ symbol: position.symbol, snapshot: snapshotFromRow(row, nowMs, 'ws') });
    }
    if (writes.length > 0) await this.write(writes, 'ws');
  }

  private async write(
    writes: { symbol: string; snapshot: Snapshot }[],
    source: SnapshotSource,
  ): Promise<void> {
    if (writes.length === 0) return;
    const { redis, keys, metrics } = this.options;
    const ttlMs = Math.round(this.options.snapshotTtlSec * 1000);
    const pipeline = redis.pipeline();
    const changed: string[] = [];
    const amounts: string[] = [];
    for (const { symbol, snapshot } of writes) {
      const fields = encodeSnapshot(snapshot);
      amounts.push(fields.position_amt as string);
      if (this.lastAmount.get(symbol) !== fields.position_amt) changed.push(symbol);
      // A ws row carries no mark price or leverage: keep the last REST values.
      if (source === 'ws')
        for (const f of ['mark_price', 'leverage'] as const) if (fields[f] === '') delete fields[f];
      pipeline.hset(keys.snapshot(symbol), fields);
      pipeline.pexpire(keys.snapshot(symbol), ttlMs);
    }
    // Wakes the reconcile engine at once for a position that moved (it need not wait for
    // its next cycle); one message per write batch, only when something changed.
    if (changed.length > 0) pipeline.publish(keys.snapshotChangedChannel, changed.join(','));
    const results = (await pipeline.exec()) ?? [];
    const failure = results.find(([error]) => error !== null)?.[0];
    if (failure) throw failure;
    for (const [i, { symbol, snapshot }] of writes.entries()) {
      this.lastAmount.set(symbol, amounts[i] as string);
      this.written.set(symbol, snapshot.takenMs);
      if (source === 'ws') this.wsWritten.set(symbol, snapshot.takenMs);
      metrics.snapshotTotal.inc({ symbol, status: 'ok' });
      metrics.positionAmt.set({ symbol }, snapshot.amount.toNumber());
      metrics.lastSnapshotTs.set({ symbol }, snapshot.takenMs / 1000);
    }
  }

  private flag(plan: SnapshotPlan): void {
    const { logger, metrics } = this.options;
    const kinds = [
      [
        'unknown',
        'unknown_symbol',
        'allowlisted symbol absent from positionRisk: snapshot not written (unknown_symbol)',
      ],
      [
        'hedge',
        'hedge_mode',
        'hedge mode (positionSide LONG/SHORT) is not supported: snapshot not written; switch the account to one-way mode',
      ],
      ['ambiguous', 'ambiguous', 'several one-way rows for one symbol: snapshot not written'],
    ] as const;
    for (const [kind, status, message] of kinds) {
      const now = new Set(plan[kind]);
      for (const symbol of now) metrics.snapshotTotal.inc({ symbol, status });
      const fresh = [...now].filter((s) => !this.flagged[kind].has(s));
      const cleared = [...this.flagged[kind]].filter((s) => !now.has(s));
      if (fresh.length > 0)
        logger.error({ symbols: fresh.slice(0, 50), count: fresh.length }, message);
      if (cleared.length > 0)
        logger.info({ symbols: cleared.slice(0, 50), status }, 'symbols written again');
      this.flagged[kind] = now;
    }
  }

  private notePaused(untilMs: number): void {
    this.options.metrics.exchangeRateLimitedTotal.inc();
    if (this.pausedLogged) return;
    this.pausedLogged = true;
    this.options.logger.warn(
      { paused_until: new Date(untilMs).toISOString() },
      'exchange rate limit: polls skipped until Retry-After passes; snapshots age meanwhile',
    );
  }

  private updateAges(): void {
    const now = this.options.clock.nowMs();
    for (const [symbol, takenMs] of this.written) {
      this.options.metrics.snapshotAgeSec.set({ symbol }, (now - takenMs) / 1000);
    }
  }
}
