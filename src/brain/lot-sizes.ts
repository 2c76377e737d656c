/**
 * Lot sizes (SPEC §3): exchangeInfo at start and every `P33_LOT_REFRESH_SEC` into
 * `P:posguard:symbol:SYM` for every allowlisted symbol the exchange lists. Until the
 * first success, retried every few seconds; permits for symbols without a stored lot
 * size deny `unknown_lot_size`.
 */
import type { Redis } from 'ioredis';
import { type LotSize, encodeLotSize } from '../domain/lot-size.js';
import type { Clock } from '../domain/time.js';
import type { FuturesRestClient } from '../exchange/types.js';
import type { Logger } from '../observability/logger.js';
import type { Keys } from '../redis/keys.js';
import type { BrainMetrics } from './metrics.js';
import { OutageLog } from './outage-log.js';

const RETRY_MS = 5000;

export interface LotSizeRefresherOptions {
  client: FuturesRestClient;
  redis: Redis;
  keys: Keys;
  allowlist: readonly string[];
  refreshSec: number;
  clock: Clock;
  metrics: BrainMetrics;
  logger: Logger;
}

export class LotSizeRefresher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<boolean> | null = null;
  private stopped = false;
  private listed: ReadonlySet<string> = new Set();
  private missingLogged = new Set<string>();
  private readonly outage: OutageLog;

  constructor(private readonly options: LotSizeRefresherOptions) {
    this.outage = new OutageLog(options.logger, 'lot size refresh (exchangeInfo)', () =>
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
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.refresh();
      void this.running.then((ok) => this.schedule(ok ? this.options.refreshSec * 1000 : RETRY_MS));
    }, delayMs);
  }

  /** One refresh; true when lot sizes were written. Never throws. */
  async refresh(): Promise<boolean> {
    const { client, redis, keys, allowlist, clock, metrics, logger } = this.options;
    if (client.pausedUntilMs() > clock.nowMs()) return false;
    try {
      const sizes = await client.lotSizes();
      const pipeline = redis.pipeline();
      const listed = new Set<string>();
      for (const symbol of allowlist) {
        const lot: LotSize | undefined = sizes.get(symbol);
        if (lot === undefined) continue;
        listed.add(symbol);
        pipeline.hset(keys.symbolLotSize(symbol), encodeLotSize(lot, clock.nowMs()));
      }
      const results = (await pipeline.exec()) ?? [];
      const failure = results.find(([error]) => error !== null)?.[0];
      if (failure) throw failure;
      this.listed = listed;
      this.logMissing(allowlist.filter((s) => !listed.has(s)));
      this.outage.ok();
      logger.debug({ symbols: listed.size }, 'lot sizes refreshed');
      return true;
    } catch (error) {
      metrics.loopErrorsTotal.inc({ component: 'lot-sizes' });
      this.outage.failed(error);
      return false;
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
