/**
 * The Apply Layer stub's own consumer group on `apply.plan` (a blocking XREADGROUP on a
 * dedicated connection, as a real Apply Layer reads it). Hands each entry to a handler
 * and acknowledges it; a failed read is logged once per outage and retried.
 */
import type { Redis } from 'ioredis';
import { fieldsToRecord } from '../../domain/apply-result.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { isReplyErrorKind } from '../../redis/scripts/reply-errors.js';

export interface PlanEntry {
  id: string;
  fields: Record<string, string>;
}

export interface PlanReaderOptions {
  /** Dedicated connection: it spends its time blocked. */
  reader: Redis;
  /** For XACK (the reader is blocked). */
  redis: Redis;
  stream: string;
  group: string;
  consumer: string;
  logger: Logger;
  handle(entry: PlanEntry): Promise<void>;
  blockMs?: number;
}

const RETRY_MS = 200;

export class PlanReader {
  #running = false;
  #loop: Promise<void> | null = null;
  #failing = false;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(private readonly options: PlanReaderOptions) {}

  async start(): Promise<void> {
    if (this.#running) return;
    const { redis, stream, group } = this.options;
    try {
      await redis.xgroup('CREATE', stream, group, '$', 'MKSTREAM');
    } catch (error) {
      if (!isReplyErrorKind(error, 'BUSYGROUP')) throw error;
    }
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops reading and waits for the plans in hand. */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
    this.#loop = null;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      try {
        const entries = await this.#read();
        this.#recovered();
        // Plans are handled concurrently; per-symbol ordering is the handler's job.
        for (const entry of entries) this.#dispatch(entry);
      } catch (error) {
        this.#failed(error);
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  async #read(): Promise<PlanEntry[]> {
    const { reader, stream, group, consumer } = this.options;
    const reply = (await reader.xreadgroup(
      'GROUP',
      group,
      consumer,
      'COUNT',
      100,
      'BLOCK',
      this.options.blockMs ?? 250,
      'STREAMS',
      stream,
      '>',
    )) as [string, [string, string[]][]][] | null;
    const items = reply?.[0]?.[1] ?? [];
    return items.map(([id, flat]) => ({ id, fields: fieldsToRecord(flat) }));
  }

  #dispatch(entry: PlanEntry): void {
    const work = this.options
      .handle(entry)
      .catch((error: unknown) => {
        this.options.logger.error(
          { err: errorMessage(error), entry: entry.id },
          'apply stub: plan handler failed',
        );
      })
      .then(() => this.options.redis.xack(this.options.stream, this.options.group, entry.id))
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => this.#inFlight.delete(work));
    this.#inFlight.add(work);
  }

  #failed(error: unknown): void {
    if (!this.#failing)
      this.options.logger.warn({ err: errorMessage(error) }, 'apply stub: plan read failed');
    this.#failing = true;
  }

  #recovered(): void {
    if (this.#failing) this.options.logger.info('apply stub: reading plans again');
    this.#failing = false;
  }
}
