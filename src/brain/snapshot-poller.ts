/**
 * The snapshot poller (SPEC §3): every `P33_POLL_SEC`, ONE positionRisk request for all
 * symbols (LESSONS #6) and one pipeline of `brain_write_snapshots.lua` calls writing every
 * allowlisted symbol's snapshot.
 *
 * - A failed poll writes nothing: snapshots age and the rules deny (never "flat").
 * - A snapshot never goes back in time: the script refuses a snapshot older than the stored
 *   one (exchange_update_ms, then ts_ms), so a REST answer sent before a user-stream push,
 *   or a paused instance waking up, cannot roll it back — whichever process wrote last.
 * - While the client's rate-limit pause lasts, polls are skipped and counted (LESSONS #7).
 * - `requestRefresh(symbol)` (after our own fill) runs an extra poll within ~25 ms,
 *   debounced, and at most one per `REFRESH_MIN_GAP_MS` (250 ms). It asks for that symbol
 *   only (`symbol=`: one row instead of the whole account); when fills of several symbols
 *   wait for the same refresh, that refresh is one request for every symbol — the same
 *   weight as one `symbol=` request. So a steady stream of fills costs at most 4 extra
 *   positionRisk calls a second, never back-to-back polling; while the exchange reports
 *   more than `REFRESH_WEIGHT_CEILING` used weight, extra refreshes are skipped (counted).
 *   Polls never overlap — a request during a poll runs one more poll right after it.
 * - `applyAccountUpdate()` writes user-data-stream position rows at once (source `ws`).
 * - Every write (REST and user stream) is a write of the `brain-poller` role (SPEC §11): it
 *   carries the epoch of the poller's term, taken when it writes, and the script refuses it
 *   below the fence. No epoch (the term just ended; the caller runs the poller only while
 *   it leads) → nothing written, nothing counted, a debug line. `fenced` → the term is told,
 *   nothing written.
 */
import type { Redis } from 'ioredis';
import { type Snapshot, encodeSnapshot } from '../domain/snapshot.js';
import type { Clock } from '../domain/time.js';
import type { AccountUpdate } from '../exchange/user-data-stream.js';
import type { FuturesRestClient } from '../exchange/types.js';
import type { Logger } from '../observability/logger.js';
import type { WriterTerm } from '../redis/ha/writer-term.js';
import type { Keys } from '../redis/keys.js';
import { type Scheduler, type Timer, systemScheduler } from '../runtime/clock.js';
import type { BrainMetrics } from './metrics.js';
import { OutageLog } from './outage-log.js';
import { SnapshotFlags } from './snapshot-flags.js';
import { type SnapshotSource, planSnapshots, snapshotFromRow } from '../domain/snapshot-rows.js';
import { type SnapshotWrite, writeSnapshots } from '../redis/scripts/brain-write-snapshots.js';

/**
 * `not_leader`: polled, but the term had ended when the snapshots were to be written —
 * nothing written or counted; `fenced`: the write was refused by the fence (the term was told).
 */
export type PollOutcome = 'ok' | 'failed' | 'skipped_rate_limited' | 'not_leader' | 'fenced';

/** What a write did: the REST changes it wrote, or why it wrote nothing. */
type WriteResult = { kind: 'written'; changes: RestChange[] } | { kind: 'not_leader' | 'fenced' };

/** A REST snapshot whose amount differs from the stored one (the user-stream watchdog's input). */
export interface RestChange {
  symbol: string;
  amount: string;
  exchangeUpdateMs: number | null;
  /** When this process last wrote the symbol's snapshot before (ms), null if never. */
  previousMs: number | null;
}

export interface SnapshotPollerOptions {
  client: FuturesRestClient;
  redis: Redis;
  keys: Keys;
  /** The `brain-poller` term: the epoch of every snapshot write, and where `fenced` goes. */
  term: WriterTerm;
  allowlist: readonly string[];
  pollSec: number;
  snapshotTtlSec: number;
  clock: Clock;
  /** Timers of the poll schedule and of fill-triggered refreshes (default: the system's). */
  scheduler?: Scheduler;
  metrics: BrainMetrics;
  logger: Logger;
  /** positionRisk v3 omits flat symbols: the symbols the exchange lists, to read them as flat. */
  listedSymbols?: () => ReadonlySet<string>;
  positionRiskVersion?: 'v2' | 'v3';
  /** Debounce of fill-triggered refreshes. */
  refreshDelayMs?: number;
  /** Called with the REST-written snapshots whose amount changed. */
  onRestChanges?: (changes: RestChange[]) => void;
}

/** What a poll covers: every allowlisted symbol (null) or one symbol. */
type Scope = string | null;

/** Fill-triggered polls start at least this far apart (SPEC §3: "within 250 ms"). */
export const REFRESH_MIN_GAP_MS = 250;
/** Half of Binance's default 2 400/min request weight: above it, no extra refreshes. */
export const REFRESH_WEIGHT_CEILING = 1200;

function merge(a: Scope | undefined, b: Scope): Scope {
  return a === undefined ? b : a === b ? a : null;
}

export class SnapshotPoller {
  private readonly allowlist: ReadonlySet<string>;
  private readonly outage: OutageLog;
  private readonly flags: SnapshotFlags;
  private readonly scheduler: Scheduler;
  private timers: { poll: Timer | null; refresh: Timer | null } = { poll: null, refresh: null };
  private inFlight: Promise<PollOutcome> | null = null;
  /** The poll to run when the one in flight ends (undefined: none). */
  private rerun: Scope | undefined = undefined;
  /** What the scheduled refresh will cover (undefined: nothing requested). */
  private refreshScope: Scope | undefined = undefined;
  private stopped = true;
  private pausedLogged = false;
  private lastSuccess: number | null = null;
  /** When this process last wrote each symbol's snapshot. */
  private readonly written = new Map<string, number>();
  private lastRefreshMs = -Infinity;

  constructor(private readonly options: SnapshotPollerOptions) {
    this.allowlist = new Set(options.allowlist);
    this.outage = new OutageLog(options.logger, 'snapshot poll', () => options.clock.nowMs());
    this.flags = new SnapshotFlags(options.metrics, options.logger);
    this.scheduler = options.scheduler ?? systemScheduler;
  }

  /** When the last poll of every symbol succeeded (ms), null before the first. */
  lastSuccessMs(): number | null {
    return this.lastSuccess;
  }

  start(): void {
    this.stopped = false;
    this.trigger();
    this.schedulePoll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of Object.values(this.timers)) timer?.cancel();
    this.timers = { poll: null, refresh: null };
    await this.inFlight;
  }

  /**
   * An extra poll soon, after our own fill of `symbol` (every symbol when absent),
   * debounced: many requests, one poll.
   */
  requestRefresh(symbol?: string): void {
    if (this.stopped) return;
    if (symbol !== undefined && !this.allowlist.has(symbol)) return;
    this.refreshScope = merge(this.refreshScope, symbol ?? null);
    if (this.timers.refresh) return;
    const weight = this.options.client.usedWeight1m();
    if (weight !== null && weight > REFRESH_WEIGHT_CEILING) {
      this.refreshScope = undefined;
      this.options.metrics.pollTotal.inc({ outcome: 'refresh_skipped_weight' });
      return;
    }
    const now = this.options.clock.nowMs();
    const delay = Math.max(
      this.options.refreshDelayMs ?? 25,
      this.lastRefreshMs + REFRESH_MIN_GAP_MS - now,
    );
    this.timers.refresh = this.scheduler.after(delay, () => {
      this.timers.refresh = null;
      this.lastRefreshMs = this.options.clock.nowMs();
      const scope = this.refreshScope ?? null;
      this.refreshScope = undefined;
      this.trigger(scope ?? undefined);
    });
  }

  /** Runs a poll now unless one is running; then one more runs right after it. */
  trigger(symbol?: string): void {
    const scope: Scope = symbol ?? null;
    if (this.inFlight) {
      this.rerun = merge(this.rerun, scope);
      return;
    }
    this.inFlight = this.poll(scope).finally(() => {
      this.inFlight = null;
      const next = this.rerun;
      this.rerun = undefined;
      if (next !== undefined && !this.stopped) this.trigger(next ?? undefined);
    });
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.timers.poll = this.scheduler.after(this.options.pollSec * 1000, () => {
      this.trigger();
      this.schedulePoll();
    });
  }

  /** One poll of every symbol, or of `symbol` only. Never throws: failures are logged once per outage and counted. */
  async pollOnce(symbol?: string): Promise<PollOutcome> {
    return this.poll(symbol ?? null);
  }

  private async poll(scope: Scope): Promise<PollOutcome> {
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
      const rows = await client.positionRisk(scope ?? undefined);
      const symbols = scope === null ? this.options.allowlist : [scope];
      const plan = planSnapshots(rows, {
        allowlist: symbols,
        // The request time: the snapshot is at least this old (conservative for ages).
        takenMs: startedMs,
        source: 'rest',
        ...(this.options.positionRiskVersion === 'v3' && this.options.listedSymbols
          ? { flatWhenAbsent: this.options.listedSymbols() }
          : {}),
      });
      const written = await this.write(plan.writes, 'rest');
      if (written.kind !== 'written') return written.kind;
      const { changes } = written;
      this.flags.note('unknown', plan.unknown, symbols);
      this.flags.note('hedge', plan.hedge, symbols);
      this.flags.note('ambiguous', plan.ambiguous, symbols);
      if (scope === null) this.lastSuccess = clock.nowMs();
      this.outage.ok();
      metrics.pollTotal.inc({ outcome: 'ok' });
      if (changes.length > 0) this.options.onRestChanges?.(changes);
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

  /**
   * Writes through the script with the term's epoch; returns the written snapshots whose
   * amount changed, or why nothing was written.
   */
  private async write(
    writes: { symbol: string; snapshot: Snapshot }[],
    source: SnapshotSource,
  ): Promise<WriteResult> {
    if (writes.length === 0) return { kind: 'written', changes: [] };
    const { redis, keys, metrics, term, logger } = this.options;
    const epoch = term.epoch();
    if (epoch === null) {
      logger.debug(
        { source, symbols: writes.length },
        'snapshots not written: this instance no longer leads brain-poller',
      );
      return { kind: 'not_leader' };
    }
    const encoded: SnapshotWrite[] = writes.map(({ symbol, snapshot }) => {
      const fields = encodeSnapshot(snapshot);
      // A ws row carries no mark price or leverage: keep the last REST values.
      if (source === 'ws')
        for (const f of ['mark_price', 'leverage'] as const) if (fields[f] === '') delete fields[f];
      return { symbol, fields };
    });
    const outcomes = await writeSnapshots(redis, keys, epoch, encoded, {
      ttlMs: this.options.snapshotTtlSec * 1000,
      // Wakes the reconcile engine at once for a position that moved.
      publishChanged: true,
    });
    if (!Array.isArray(outcomes)) {
      term.fenced(outcomes);
      logger.debug({ source, ...outcomes }, 'snapshots not written: fenced');
      return { kind: 'fenced' };
    }
    const changes: RestChange[] = [];
    const wrongType: string[] = [];
    for (const [i, { symbol, snapshot }] of writes.entries()) {
      const outcome = outcomes[i]!;
      if (outcome.kind === 'stale') {
        metrics.snapshotTotal.inc({ symbol, status: 'stale' });
        continue;
      }
      if (outcome.kind === 'wrong_type') {
        wrongType.push(symbol);
        metrics.loopErrorsTotal.inc({ component: 'snapshot-poller' });
        continue;
      }
      if (outcome.changed) {
        changes.push({
          symbol,
          amount: encoded[i]!.fields.position_amt!,
          exchangeUpdateMs: snapshot.exchangeUpdateMs,
          previousMs: this.written.get(symbol) ?? null,
        });
      }
      this.written.set(symbol, snapshot.takenMs);
      metrics.snapshotTotal.inc({ symbol, status: 'ok' });
      metrics.positionAmt.set({ symbol }, snapshot.amount.toNumber());
      metrics.lastSnapshotTs.set({ symbol }, snapshot.takenMs / 1000);
    }
    this.flags.note(
      'wrong_type',
      wrongType,
      writes.map((w) => w.symbol),
    );
    return { kind: 'written', changes };
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
}
