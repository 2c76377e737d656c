/**
 * The cycle's read step (SPEC §7): the incremental evidence poll plus one
 * `reconcile_read_batch` call per batch of symbols, in ONE round trip. Each batch is handed
 * on (decided and encoded by the engine) as soon as its reply arrives, so the decisions of
 * one batch are taken while Redis is still reading the next (Redis and the engine run on
 * different cores). The result is the same as reading everything first and deciding after:
 * decisions are pure, every batch is handed on with the evidence window of this cycle, and a
 * batch that could not be handed on when it arrived (a backlog of results still to page in,
 * a reply that came before the poll's) is handed on at the end. NOSCRIPT is not handled
 * here: the script layer re-sends the call (src/redis/scripts/script.ts).
 */
import type { Redis } from 'ioredis';
import { reconcileReadBatch } from '../redis/scripts/reconcile-read-batch.js';
import { queueScript, scriptPipeline } from '../redis/scripts/script.js';
import type { EvidenceFeed } from './evidence-feed.js';
import { type ReadBatch, type SymbolReads, batchReads } from './read.js';

export interface CycleReaderOptions {
  redis: Redis;
  feed: EvidenceFeed;
  batches: readonly ReadBatch[];
}

/** One read batch's symbols, from `offset` in allowlist order. */
export interface BatchReads {
  offset: number;
  reads: readonly SymbolReads[];
}

/** What the read step calls while the replies arrive. */
export interface ReadHooks {
  /** The evidence window holds this cycle's results (called before any batch is handed on). */
  evidenceReady: () => void;
  /** One batch's reads, exactly once per batch, in any order. */
  batch: (batch: BatchReads) => void;
}

/** Read: every symbol's reads, in allowlist order. */
export interface CycleReads {
  readonly reads: readonly SymbolReads[];
}

/** What one read pipeline saw, filled in by the reply callbacks. */
class ReadRound {
  evidenceReady = false;
  /** The poll came back full: more results must be paged in before deciding. */
  backlog = false;
  streamError: Error | null = null;
  /** An exception thrown inside a callback, rethrown after the pipeline. */
  failure: Error | null = null;
  readonly reads: (SymbolReads[] | undefined)[];
  readonly handedOn: boolean[];

  constructor(
    private readonly batches: readonly ReadBatch[],
    private readonly hooks: ReadHooks,
  ) {
    this.reads = new Array<SymbolReads[] | undefined>(batches.length);
    this.handedOn = batches.map(() => false);
  }

  /** Runs a reply callback; an exception is kept for after the pipeline. */
  guard(body: () => void): void {
    try {
      body();
    } catch (error) {
      this.failure ??= error instanceof Error ? error : new Error(String(error));
    }
  }

  polled(backlog: boolean): void {
    this.backlog = backlog;
    if (backlog) return;
    this.hooks.evidenceReady();
    this.evidenceReady = true;
  }

  arrived(b: number, reads: SymbolReads[]): void {
    this.reads[b] = reads;
    if (this.evidenceReady) this.handOn(b);
  }

  handOn(b: number): void {
    const batch = this.batches[b] as ReadBatch;
    const reads = (this.reads[b] ??= batchReads(batch, new Error('no reply'), undefined));
    this.handedOn[b] = true;
    this.hooks.batch({ offset: batch.offset, reads });
  }
}

export class CycleReader {
  constructor(private readonly o: CycleReaderOptions) {}

  /** Reads every symbol, handing each batch on as soon as it can be decided. */
  async read(hooks: ReadHooks): Promise<CycleReads> {
    const round = new ReadRound(this.o.batches, hooks);
    const pipeline = scriptPipeline(this.o.redis, [reconcileReadBatch]);
    this.o.feed.queuePoll(pipeline, (error, reply) =>
      round.guard(() => {
        if (error) round.streamError = error;
        else round.polled(this.o.feed.ingest(reply).full);
      }),
    );
    this.o.batches.forEach((batch, b) =>
      queueScript(pipeline, reconcileReadBatch, { symbolKeys: batch.keys }, (error, entries) =>
        round.guard(() => round.arrived(b, batchReads(batch, error, entries))),
      ),
    );
    await pipeline.exec();
    if (round.failure !== null) throw round.failure;
    if (round.streamError) throw round.streamError;
    if (round.backlog) {
      await this.o.feed.drain();
      hooks.evidenceReady();
    }
    round.handedOn.forEach((done, b) => done || round.handOn(b));
    return { reads: round.reads.flatMap((r) => r ?? []) };
  }
}
