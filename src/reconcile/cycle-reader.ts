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

/** How a cycle decides: called in the order below, from the reply callbacks or after. */
export interface CycleDecider {
  /** A read round starts: forget what earlier rounds decided (a NOSCRIPT round is redone). */
  begin?: () => void;
  /** The evidence window holds this cycle's results (runs before any decision). */
  evidenceReady: () => void;
  /** One symbol's decision. */
  decide: (reads: SymbolReads) => Decision;
  /** A batch is decided: its first symbol's index in the allowlist, its reads and decisions. */
  decided?: (offset: number, reads: readonly SymbolReads[], decisions: readonly Decision[]) => void;
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

  /** Reads every symbol and decides it (a round that met NOSCRIPT is run once more). */
  async read(decider: CycleDecider): Promise<CycleReads> {
    await this.o.loadScripts(false);
    let round = await this.round(decider);
    if (round.noScript) {
      await this.o.loadScripts(true);
      round = await this.round(decider);
    }
    if (round.failure !== null) throw round.failure;
    if (round.streamError) throw round.streamError;
    if (round.backlog) {
      await this.o.feed.drain();
      decider.evidenceReady();
    }
    const reads: SymbolReads[] = [];
    const decisions: Decision[] = [];
    this.o.batches.forEach((batch, b) => {
      const batchReads = round.reads[b] ?? parseReadBatch(batch, new Error('no reply'), null);
      let batchDecisions = round.decisions[b];
      if (batchDecisions === undefined) {
        batchDecisions = batchReads.map(decider.decide);
        decider.decided?.(batch.offset, batchReads, batchDecisions);
      }
      reads.push(...batchReads);
      decisions.push(...batchDecisions);
    });
    return { reads, decisions };
  }

  private async round(decider: CycleDecider): Promise<Round> {
    decider.begin?.();
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
        decider.evidenceReady();
        round.evidenceReady = true;
      }),
    );
    this.o.batches.forEach((batch, b) =>
      queueReadBatch(pipeline, batch, (error, reply) =>
        guard(() => {
          if (error && isNoScript(error)) round.noScript = true;
          const reads = parseReadBatch(batch, error, reply);
          round.reads[b] = reads;
          if (!round.evidenceReady || round.noScript) return;
          const decisions = reads.map(decider.decide);
          round.decisions[b] = decisions;
          decider.decided?.(batch.offset, reads, decisions);
        }),
      ),
    );
    await pipeline.exec();
    return round;
  }
}
