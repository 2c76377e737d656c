/**
 * The desk as the open pages see it: one reader for all of them. While at least one page
 * is open it reads every symbol and both heartbeats each `refreshMs` (one round trip), the
 * permit counters every PERMITS_EVERY_MS and the instances and leaders of SPEC §11 every
 * INSTANCES_EVERY_MS (the one HA reader, src/redis/ha/instances-reader.ts: finding the
 * presence records takes a SCAN, so rarely, and only while a page is open), and
 * sends each page only the rows that changed. When a read fails, Redis is reported down
 * (the last rows stay, marked stale by the page) and the next tick tries again, so the page
 * recovers by itself.
 */
import type { Redis } from 'ioredis';
import type { HaState } from '../domain/ha-state.js';
import type { Clock } from '../domain/time.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { readHaState } from '../redis/ha/instances-reader.js';
import type { Keys } from '../redis/keys.js';
import type { DeskRead } from './desk-reader.js';
import { readDesk } from './desk-reader.js';
import type { DeskRow } from './desk-rows.js';
import type { LiveHub } from './live-hub.js';
import { type PermitCounts, countDecisions, readRecentPlans } from './permit-window.js';

export const PERMITS_EVERY_MS = 5000;
export const PERMIT_WINDOW = 1000;
export const INSTANCES_EVERY_MS = 15_000;

export interface RedisStatus {
  /** unknown: not read yet. */
  state: 'unknown' | 'up' | 'down';
  /** Since when it has been up/down (ms), by this server's clock. */
  since_ms: number;
  error: string | null;
}

/** One `desk` message: rows are only those that changed, unless `full`. */
export interface DeskMessage {
  now_ms: number;
  redis: RedisStatus;
  read_ms: number | null;
  full: boolean;
  rows: DeskRow[];
  heartbeats: DeskRead['heartbeats'] | null;
  permits: PermitCounts | null;
  permit_window: number;
  /** Instances and leaders (SPEC §11); null when no presence record or lease exists. */
  ha: HaState | null;
}

export interface DeskFeedOptions {
  redis: Redis;
  keys: Keys;
  symbols: readonly string[];
  refreshMs: number;
  clock: Clock;
  logger: Logger;
  hub: LiveHub;
  /** `POSGUARD_LEASE_MS`, for each lease's age (null: not shown). */
  leaseMs?: number | null;
}

export class DeskFeed {
  private readonly rows = new Map<string, { json: string; row: DeskRow }>();
  private latest: DeskRead | null = null;
  private permits: PermitCounts | null = null;
  private permitsAt = -Infinity;
  private ha: HaState | null = null;
  private instancesAt = -Infinity;
  private status: RedisStatus;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly options: DeskFeedOptions) {
    this.status = { state: 'unknown', since_ms: options.clock.nowMs(), error: null };
  }

  start(): void {
    this.timer ??= setInterval(() => {
      if (this.options.hub.size > 0) void this.refresh();
    }, this.options.refreshMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Everything a newly opened page needs, rows in full. */
  message(full = true): DeskMessage {
    return {
      now_ms: this.options.clock.nowMs(),
      redis: this.status,
      read_ms: this.latest?.read_ms ?? null,
      full,
      rows: full ? [...this.rows.values()].map((r) => r.row) : [],
      heartbeats: this.latest?.heartbeats ?? null,
      permits: this.permits,
      permit_window: PERMIT_WINDOW,
      ha: this.ha,
    };
  }

  /** Reads now unless a read is under way (then waits for that one). */
  refresh(): Promise<void> {
    this.running ??= this.tick().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** A read no older than refreshMs (for a new page or the JSON endpoint). */
  async ensureFresh(): Promise<void> {
    const age = this.options.clock.nowMs() - (this.latest?.read_ms ?? -Infinity);
    if (age >= this.options.refreshMs || this.status.state !== 'up') await this.refresh();
  }

  private async tick(): Promise<void> {
    const { redis, keys, symbols, clock, hub } = this.options;
    try {
      const read = await readDesk(redis, keys, symbols, () => clock.nowMs());
      const changed = this.remember(read);
      await this.readSlowParts(read.read_ms);
      this.latest = read;
      this.setStatus(true, null);
      hub.broadcast('desk', { ...this.message(false), rows: changed });
    } catch (error) {
      const connected = redis.status === 'ready';
      this.setStatus(false, connected ? errorMessage(error) : `no connection (${redis.status})`);
      hub.broadcast('desk', this.message(false));
    }
  }

  private remember(read: DeskRead): DeskRow[] {
    const changed: DeskRow[] = [];
    for (const row of read.rows) {
      const json = JSON.stringify(row);
      if (this.rows.get(row.symbol)?.json === json) continue;
      this.rows.set(row.symbol, { json, row });
      changed.push(row);
    }
    return changed;
  }

  private async readSlowParts(nowMs: number): Promise<void> {
    const { redis, keys } = this.options;
    if (nowMs - this.permitsAt >= PERMITS_EVERY_MS) {
      this.permits = countDecisions(await readRecentPlans(redis, keys, PERMIT_WINDOW));
      this.permitsAt = nowMs;
    }
    if (nowMs - this.instancesAt >= INSTANCES_EVERY_MS) {
      this.ha = await readHaState(redis, keys, {
        leaseMs: this.options.leaseMs ?? null,
        nowMs,
      });
      this.instancesAt = nowMs;
    }
  }

  private setStatus(up: boolean, error: string | null): void {
    const state = up ? 'up' : 'down';
    if (state !== this.status.state) {
      if (up && this.status.state === 'down') this.options.logger.info('web: Redis readable again');
      if (!up) this.options.logger.warn({ err: error }, 'web: Redis unreadable; the page shows it');
      this.status = { state, since_ms: this.options.clock.nowMs(), error };
    } else if (error !== this.status.error) {
      this.status = { ...this.status, error };
    }
  }
}
