/**
 * The cycle's read pipeline (SPEC §7): the incremental evidence poll plus one
 * `reconcile_read_batch` call per batch of symbols, in ONE round trip. Each batch is decided
 * as soon as its reply arrives, so the decisions of one batch are taken while Redis is still
 * reading the next (Redis and the engine run on different cores). The result is the same as
 * reading everything first and deciding after: decisions are pure, every batch is decided
 * with the evidence window of this cycle, and whatever could not be decided on arrival (a
 * backlog of results still to page in, a reply that came early) is decided at the end.
 */
import type { Redis } from 'ioredis';
import type { Decision } from '../domain/drift.js';
import { isNoScript } from '../redis/lua-script.js';
import type { EvidenceFeed } from './evidence-feed.js';
import { type ReadBatch, type SymbolReads, parseReadBatch, queueReadBatch } from './read.js';

export interface CycleReaderOptions {
  redis: Redis;
  feed: EvidenceFeed;
  batches: readonly ReadBatch[];
  /** Loads the scripts (force: again, after NOSCRIPT). */
  loadScripts: (force: boolean) => Promise<void>;
}

export interface CycleReads {
  reads: SymbolReads[];
  decisions: Decision[];
}

/** What one pipeline round saw, filled in by the reply callbacks. */
class Round {
  evidenceReady = false;
  /** The poll came back full: more results must be paged in before deciding. */
  backlog = false;
  noScript = false;
  streamError: Error | null = null;
  /** An exception thrown inside a callback, rethrown after the pipeline. */
  failure: Error | null = null;
  readonly reads: (SymbolReads[] | undefined)[];
  readonly decisions: (Decision[] | undefined)[];

  constructor(batches: number) {
    this.reads = new Array<SymbolReads[] | undefined>(batches);
    this.decisions = new Array<Decision[] | undefined>(batches);
  }
}

export class CycleReader {
  constructor(private readonly o: CycleReaderOptions) {}

  /**
   * Reads every symbol and decides it. `onEvidence` runs once the evidence window holds
   * this cycle's results (before any decision); `decide` takes one symbol's decision.
   */
  async read(
    onEvidence: () => void,
    decide: (reads: SymbolReads) => Decision,
  ): Promise<CycleReads> {
    await this.o.loadScripts(false);
    let round = await this.round(onEvidence, decide);
    if (round.noScript) {
      await this.o.loadScripts(true);
      round = await this.round(onEvidence, decide);
    }
    if (round.failure !== null) throw round.failure;
    if (round.streamError) throw round.streamError;
    if (round.backlog) {
      await this.o.feed.drain();
      onEvidence();
    }
    const reads: SymbolReads[] = [];
    const decisions: Decision[] = [];
    this.o.batches.forEach((batch, b) => {
      const batchReads = round.reads[b] ?? parseReadBatch(batch, new Error('no reply'), null);
      reads.push(...batchReads);
      decisions.push(...(round.decisions[b] ?? batchReads.map(decide)));
    });
    return { reads, decisions };
  }

  private async round(
    onEvidence: () => void,
    decide: (reads: SymbolReads) => Decision,
  ): Promise<Round> {
    const round = new Round(this.o.batches.length);
    const guard = (body: () => void): void => {
      try {
        body();
      } catch (error) {
        round.failure ??= error instanceof Error ? error : new Error(String(error));
      }
    };
    const pipeline = this.o.redis.pipeline();
    this.o.feed.queuePoll(pipeline, (error, reply) =>
      guard(() => {
        if (error) {
          round.streamError = error;
          return;
        }
        round.backlog = this.o.feed.ingest(reply).full;
        if (round.backlog) return;
        onEvidence();
        round.evidenceReady = true;
      }),
    );
    this.o.batches.forEach((batch, b) =>
      queueReadBatch(pipeline, batch, (error, reply) =>
        guard(() => {
          if (error && isNoScript(error)) round.noScript = true;
          const reads = parseReadBatch(batch, error, reply);
          round.reads[b] = reads;
          if (round.evidenceReady && !round.noScript) round.decisions[b] = reads.map(decide);
        }),
      ),
    );
    await pipeline.exec();
    return round;
  }
}
