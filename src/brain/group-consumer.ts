/**
 * The read loop of a consumer group (LESSONS #3: blocking reads, never polling):
 *
 * 1. on start and after any failure, re-read this consumer's own pending entries;
 * 2. every `claimEveryMs`, claim entries idle > `claimIdleMs` from dead consumers;
 * 3. otherwise block on new entries ('>').
 *
 * A failed iteration (Redis down, a handler error) is logged once per outage, counted,
 * and the loop goes on; entries stay pending and are handled again after recovery.
 */
import type { Redis } from 'ioredis';
import type { Clock } from '../domain/time.js';
import type { Logger } from '../observability/logger.js';
import { type Scheduler, systemScheduler } from '../runtime/clock.js';
import { OutageLog } from './outage-log.js';
import { type StreamEntry, autoClaim, ensureGroup, isNoGroup, readGroup } from './stream-group.js';

/** Read tuning shared by the brain's consumers; unset values take the defaults below. */
export interface ConsumerTuning {
  /** Entries per read (default 256). */
  count?: number;
  /** How long one XREADGROUP blocks (default 500 ms). */
  blockMs?: number;
  /** Entries idle longer than this are claimed from dead consumers (default 5 s). */
  claimIdleMs?: number;
  /** How often to look for them (default 5 s). */
  claimEveryMs?: number;
}

const DEFAULT_TUNING: Required<ConsumerTuning> = {
  count: 256,
  blockMs: 500,
  claimIdleMs: 5000,
  claimEveryMs: 5000,
};

export interface GroupConsumerOptions extends ConsumerTuning {
  name: string;
  /** Dedicated connection: it spends its time blocked in XREADGROUP. */
  reader: Redis;
  stream: string;
  group: string;
  consumer: string;
  /** Where a new group starts: '0' keeps entries written before the first start. */
  startId: '0' | '$';
  /** Handles a batch; must ack what it handled. Throwing leaves the batch pending. */
  handle(entries: StreamEntry[]): Promise<void>;
  onError(component: string): void;
  logger: Logger;
  /** Time for claim scheduling and the outage log (not for any decision). */
  clock: Clock;
  /** Waits between a failed iteration and the next (default: the system's timers). */
  scheduler?: Scheduler;
}

const RETRY_MS = 150;

export class GroupConsumer {
  private stopping = false;
  /** Ends the retry wait at once when stop() is called. */
  private stopSignal = new AbortController();
  private loop: Promise<void> | null = null;
  private groupReady = false;
  private sweepPending = true;
  private lastClaimMs = 0;
  private readonly outage: OutageLog;

  private readonly tuning: Required<ConsumerTuning>;
  private readonly scheduler: Scheduler;

  constructor(private readonly options: GroupConsumerOptions) {
    this.tuning = {
      count: options.count ?? DEFAULT_TUNING.count,
      blockMs: options.blockMs ?? DEFAULT_TUNING.blockMs,
      claimIdleMs: options.claimIdleMs ?? DEFAULT_TUNING.claimIdleMs,
      claimEveryMs: options.claimEveryMs ?? DEFAULT_TUNING.claimEveryMs,
    };
    this.outage = new OutageLog(options.logger, `${options.name} stream consumer`, () =>
      this.now(),
    );
    this.scheduler = options.scheduler ?? systemScheduler;
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.stopSignal = new AbortController();
    this.loop = this.run();
  }

  /** Stops reading; the batch in hand is finished first. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopSignal.abort();
    await this.loop;
    this.loop = null;
  }

  private now(): number {
    return this.options.clock.nowMs();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.iterate();
        this.recovered();
      } catch (error) {
        this.failed(error);
        await this.scheduler.sleep(RETRY_MS, this.stopSignal.signal);
      }
    }
  }

  private async iterate(): Promise<void> {
    const o = this.options;
    if (!this.groupReady) {
      await ensureGroup(o.reader, o.stream, o.group, o.startId);
      this.groupReady = true;
    }
    if (this.sweepPending) {
      await this.sweepOwnPending();
      this.sweepPending = false;
    }
    if (this.now() - this.lastClaimMs >= this.tuning.claimEveryMs) {
      const claimed = await autoClaim(o.reader, {
        stream: o.stream,
        group: o.group,
        consumer: o.consumer,
        minIdleMs: this.tuning.claimIdleMs,
        count: this.tuning.count,
      });
      this.lastClaimMs = this.now();
      if (claimed.length > 0) await this.handle(claimed);
    }
    const entries = await readGroup(o.reader, {
      stream: o.stream,
      group: o.group,
      consumer: o.consumer,
      count: this.tuning.count,
      blockMs: this.tuning.blockMs,
      id: '>',
    });
    if (entries.length > 0) await this.handle(entries);
  }

  /** Re-reads entries delivered to this consumer but never acked (crash, outage, failure). */
  private async sweepOwnPending(): Promise<void> {
    const o = this.options;
    let cursor = '0';
    for (;;) {
      const entries = await readGroup(o.reader, {
        stream: o.stream,
        group: o.group,
        consumer: o.consumer,
        count: this.tuning.count,
        id: cursor,
      });
      if (entries.length === 0) return;
      await this.handle(entries);
      cursor = entries[entries.length - 1]!.id;
    }
  }

  private async handle(entries: StreamEntry[]): Promise<void> {
    try {
      await this.options.handle(entries);
    } catch (error) {
      this.sweepPending = true;
      throw error;
    }
  }

  private failed(error: unknown): void {
    if (isNoGroup(error)) this.groupReady = false; // Redis lost its data: recreate the group
    this.sweepPending = true;
    this.options.onError(this.options.name);
    this.outage.failed(error, {
      hint: 'entries stay pending and are handled after recovery, from fresh reads',
    });
  }

  private recovered(): void {
    this.outage.ok();
  }
}
