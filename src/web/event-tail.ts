/**
 * ONE blocking reader of the events stream for the whole server: it keeps the latest events
 * in memory (what a newly opened page is sent first) and hands every new entry to the live
 * hub. When Redis goes away it retries from the last id it saw, so nothing is skipped
 * while the stream still holds it. Read-only (XREVRANGE, XREAD).
 */
import type { Redis } from 'ioredis';
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { type EventRecord, recentEvents, toEventRecord } from '../redis/event-stream.js';

export const EVENT_BACKLOG = 100;
export const EVENT_BLOCK_MS = 5000;
export const EVENT_RETRY_MS = 500;

export interface EventTailOptions {
  /** A connection of its own: XREAD BLOCK occupies it. */
  redis: Redis;
  stream: string;
  logger: Logger;
  onEvents(records: EventRecord[]): void;
  backlog?: number;
  blockMs?: number;
  retryMs?: number;
}

export class EventTail {
  private buffer: EventRecord[] = [];
  private lastId: string | null = null;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private failing = false;

  constructor(private readonly options: EventTailOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** The latest events, oldest first. */
  recent(): EventRecord[] {
    return [...this.buffer];
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.options.redis.disconnect();
    await this.loop;
  }

  private remember(records: EventRecord[]): void {
    const limit = this.options.backlog ?? EVENT_BACKLOG;
    this.buffer.push(...records);
    if (this.buffer.length > limit) this.buffer.splice(0, this.buffer.length - limit);
  }

  private async run(): Promise<void> {
    const { redis, stream } = this.options;
    while (!this.stopping) {
      try {
        if (this.lastId === null) {
          const backlog = await recentEvents(redis, stream, this.options.backlog ?? EVENT_BACKLOG);
          this.remember(backlog);
          // An empty stream: everything added from now on has an id above 0-0.
          this.lastId = backlog[backlog.length - 1]?.id ?? '0-0';
          // Pages opened while the stream was unreadable have not seen these (pages skip
          // the ids they already show).
          if (backlog.length > 0) this.options.onEvents(backlog);
        }
        const reply = await redis.xread(
          'COUNT',
          500,
          'BLOCK',
          this.options.blockMs ?? EVENT_BLOCK_MS,
          'STREAMS',
          stream,
          this.lastId,
        );
        this.recovered();
        const records = (reply ?? []).flatMap(([, entries]) => entries.map(toEventRecord));
        if (records.length === 0) continue;
        this.lastId = records[records.length - 1]?.id ?? this.lastId;
        this.remember(records);
        this.options.onEvents(records);
      } catch (error) {
        if (this.stopping) break;
        this.failed(error);
        await this.pause(this.options.retryMs ?? EVENT_RETRY_MS);
      }
    }
  }

  private failed(error: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.options.logger.warn(
      { err: errorMessage(error) },
      'web: events stream unreadable; retrying',
    );
  }

  private recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    this.options.logger.info('web: events stream readable again');
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
