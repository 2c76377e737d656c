/**
 * Lot sizes (SPEC §3): exchangeInfo at start and every `P33_LOT_REFRESH_SEC` into
 * `P:posguard:symbol:SYM` for every allowlisted symbol the exchange lists. Until the
 * first success, retried every few seconds; permits for symbols without a stored lot
 * size deny `unknown_lot_size`.
 *
 * The last good lot sizes are also re-written from memory every few seconds (no exchange
 * call), so a Redis that comes back empty, or a deleted key, costs seconds of
 * `unknown_lot_size`, not an hour.
 *
 * Every write goes through `brain_write_lot_sizes.lua`, a write of the `brain-poller` role
 * (SPEC §11) carrying the epoch of the refresher's term: no epoch (the term just ended) →
 * nothing written or counted, a debug line; `fenced` → the term is told, nothing written.
 * Neither is a failed refresh: the lot sizes fetched are kept for the next term.
 */
import type { Redis } from 'ioredis';
import { type LotSize, encodeLotSize } from '../domain/lot-size.js';
import { PosguardError } from '../errors.js';
import type { WriterTerm } from '../redis/ha/writer-term.js';
import { writeLotSizes } from '../redis/scripts/brain-write-lot-sizes.js';
import type { Clock } from '../domain/time.js';
import type { FuturesRestClient } from '../exchange/types.js';
import type { Logger } from '../observability/logger.js';
import type { Keys } from '../redis/keys.js';
import { type Scheduler, type Timer, systemScheduler } from '../runtime/clock.js';
import type { BrainMetrics } from './metrics.js';
import { OutageLog } from './outage-log.js';

const RETRY_MS = 5000;
const REWRITE_MS = 5000;

export interface LotSizeRefresherOptions {
  client: FuturesRestClient;
  redis: Redis;
  keys: Keys;
  /** The `brain-poller` term: the epoch of every lot-size write, and where `fenced` goes. */
  term: WriterTerm;
  allowlist: readonly string[];
  refreshSec: number;
  clock: Clock;
  /** Timers of the refresh and the re-write (default: the system's). */
  scheduler?: Scheduler;
  metrics: BrainMetrics;
  logger: Logger;
  /** How often the last good lot sizes are re-written from memory. */
  rewriteMs?: number;
}

interface KnownLot {
  lot: LotSize;
  fetchedMs: number;
}

export class LotSizeRefresher {
  private readonly scheduler: Scheduler;
  private timer: Timer | null = null;
  private rewriteTimer: Timer | null = null;
  private readonly inFlight = new Set<Promise<unknown>>();
  private known = new Map<string, KnownLot>();
  private stopped = false;
  private listed: ReadonlySet<string> = new Set();
  private missingLogged = new Set<string>();
  private readonly outage: OutageLog;
  private readonly rewriteOutage: OutageLog;

  constructor(private readonly options: LotSizeRefresherOptions) {
    this.scheduler = options.scheduler ?? systemScheduler;
    this.outage = new OutageLog(options.logger, 'lot size refresh (exchangeInfo)', () =>
      options.clock.nowMs(),
    );
    this.rewriteOutage = new OutageLog(options.logger, 'lot size re-write', () =>
      options.clock.nowMs(),
    );
  }

  /** Symbols of the allowlist the exchange listed at the last successful refresh. */
  listedSymbols(): ReadonlySet<string> {
    return this.listed;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
    this.rewriteTimer = this.scheduler.every(
      this.options.rewriteMs ?? REWRITE_MS,
      () => void this.track(this.rewrite()),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.rewriteTimer?.cancel();
    this.timer = null;
    this.rewriteTimer = null;
    await Promise.all([...this.inFlight]);
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return work;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.scheduler.after(delayMs, () => {
      void this.track(this.refresh()).then((ok) =>
        this.schedule(ok ? this.options.refreshSec * 1000 : RETRY_MS),
      );
    });
  }

  /** One refresh; true when lot sizes were written. Never throws. */
  async refresh(): Promise<boolean> {
    const { client, allowlist, clock, metrics, logger } = this.options;
    if (client.pausedUntilMs() > clock.nowMs()) return false;
    try {
      const sizes = await client.lotSizes();
      const fetchedMs = clock.nowMs();
      const known = new Map<string, KnownLot>();
      for (const symbol of allowlist) {
        const lot = sizes.get(symbol);
        if (lot !== undefined) known.set(symbol, { lot, fetchedMs });
      }
      await this.write(known);
      this.known = known;
      this.listed = new Set(known.keys());
      this.logMissing(allowlist.filter((s) => !known.has(s)));
      this.outage.ok();
      logger.debug({ symbols: known.size }, 'lot sizes refreshed');
      return true;
    } catch (error) {
      metrics.loopErrorsTotal.inc({ component: 'lot-sizes' });
      this.outage.failed(error);
      return false;
    }
  }

  /** Re-writes the last good lot sizes (after Redis lost them). Never throws. */
  async rewrite(): Promise<void> {
    if (this.known.size === 0) return;
    try {
      await this.write(this.known);
      this.rewriteOutage.ok();
    } catch (error) {
      this.options.metrics.loopErrorsTotal.inc({ component: 'lot-sizes' });
      this.rewriteOutage.failed(error);
    }
  }

  /**
   * Writes the lot sizes with the term's epoch. A key of another type is refused alone
   * (the others are written) and then thrown, as a failed write.
   */
  private async write(known: ReadonlyMap<string, KnownLot>): Promise<void> {
    if (known.size === 0) return;
    const { redis, keys, term, logger } = this.options;
    const epoch = term.epoch();
    if (epoch === null) {
      logger.debug(
        { symbols: known.size },
        'lot sizes not written: this instance no longer leads brain-poller',
      );
      return;
    }
    const writes = [...known].map(([symbol, { lot, fetchedMs }]) => ({
      symbol,
      fields: encodeLotSize(lot, fetchedMs),
    }));
    const outcomes = await writeLotSizes(redis, keys, epoch, writes);
    if (!Array.isArray(outcomes)) {
      term.fenced(outcomes);
      logger.debug({ ...outcomes }, 'lot sizes not written: fenced');
      return;
    }
    const refused = outcomes.flatMap((o) => (o.kind === 'wrong_type' ? [o] : []));
    if (refused.length > 0) {
      throw new PosguardError(
        'REDIS_WRONGTYPE',
        `${refused.map((o) => `${o.key} holds a ${o.found}`).join(', ')}: not a lot-size hash, nothing written there (those symbols deny unknown_lot_size); inspect with redis-cli TYPE, then delete`,
      );
    }
  }

  private logMissing(missing: string[]): void {
    const fresh = missing.filter((s) => !this.missingLogged.has(s));
    if (fresh.length > 0) {
      this.options.logger.error(
        { symbols: fresh.slice(0, 50), count: fresh.length },
        'allowlisted symbols missing from exchangeInfo: no lot size, their plans deny unknown_lot_size',
      );
    }
    this.missingLogged = new Set(missing);
  }
}
