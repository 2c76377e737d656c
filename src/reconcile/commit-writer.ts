/**
 * The cycle's writes: ONE pipeline holding every symbol's commit (the commit script, or a
 * plain HSET for a steady OK symbol) and the heartbeat. Scripts that meet NOSCRIPT (Redis
 * restarted, SCRIPT FLUSH) are reloaded and only those commits are re-run.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Decision } from '../domain/drift.js';
import type { Keys } from '../redis/keys.js';
import { isNoScript } from '../redis/lua-script.js';
import {
  type CommitReply,
  type CommitSettings,
  type EncodedCommit,
  decodeQueuedReply,
  encodeCommit,
  encodeSteady,
  isSteady,
  queueCommit,
} from './commit.js';
import { encodeHeartbeat, heartbeatTtlMs } from './heartbeat.js';
import type { SymbolReads } from './read.js';

export type CommitResult = CommitReply | { code: 'error'; problem: string };

type PipelineResult = [Error | null, unknown];

export interface CommitWriterOptions {
  redis: Redis;
  keys: Keys;
  cadenceSec: number;
  symbols: number;
  identity?: { pid: number; host: string };
  /** Reloads the scripts after NOSCRIPT. */
  reloadScripts: () => Promise<void>;
}

export interface CommitBatch {
  decisions: readonly Decision[];
  reads: readonly SymbolReads[];
  settings: CommitSettings;
  /** The cycle number written to the heartbeat. */
  cycle: number;
}

export class CommitWriter {
  constructor(private readonly o: CommitWriterOptions) {}

  /** Writes one cycle; a per-symbol failure is that symbol's result, a pipeline failure throws. */
  async write(batch: CommitBatch): Promise<CommitResult[]> {
    const encoded = this.encodeAll(batch);
    const results: CommitResult[] = encoded.map((e) =>
      typeof e === 'string' ? { code: 'error', problem: e } : { code: 'error', problem: 'not run' },
    );
    const pending = encoded.flatMap((e, i) => (typeof e === 'string' ? [] : [i]));
    const noScript = await this.exec(encoded, pending, results, batch);
    if (noScript.length > 0) {
      await this.o.reloadScripts();
      await this.exec(encoded, noScript, results, null);
    }
    return results;
  }

  private encodeAll(batch: CommitBatch): (EncodedCommit | string)[] {
    return batch.decisions.map((d, i) => {
      const reads = batch.reads[i];
      try {
        if (reads && isSteady(d, reads)) return encodeSteady(this.o.keys, d, batch.settings.nowMs);
        const ledger = reads?.ledger.kind === 'hash' ? reads.ledger.fields : {};
        return encodeCommit(this.o.keys, d, ledger, batch.settings);
      } catch (error) {
        return error instanceof Error ? error.message : String(error);
      }
    });
  }

  /** Runs the commits at `indices` (plus the heartbeat when `batch` is given); returns NOSCRIPT indices. */
  private async exec(
    encoded: readonly (EncodedCommit | string)[],
    indices: readonly number[],
    results: CommitResult[],
    batch: CommitBatch | null,
  ): Promise<number[]> {
    const pipeline = this.o.redis.pipeline();
    for (const i of indices) queueCommit(pipeline, encoded[i] as EncodedCommit);
    if (batch) {
      const ttl = heartbeatTtlMs(this.o.cadenceSec);
      pipeline.set(this.o.keys.reconcileHeartbeat, this.heartbeat(batch), 'PX', ttl);
    }
    const replies = ((await pipeline.exec()) ?? []) as PipelineResult[];
    const noScript: number[] = [];
    indices.forEach((symbolIndex, k) => {
      const [error, value] = replies[k] ?? [new Error('no reply'), null];
      if (error && isNoScript(error)) noScript.push(symbolIndex);
      else if (error) results[symbolIndex] = { code: 'error', problem: error.message };
      else {
        const reply = decodeQueuedReply(encoded[symbolIndex] as EncodedCommit, value);
        results[symbolIndex] = reply ?? {
          code: 'error',
          problem: 'unknown reply from reconcile_commit',
        };
      }
    });
    const beat = batch ? replies[indices.length] : undefined;
    if (beat?.[0]) throw beat[0];
    return noScript;
  }

  private heartbeat(batch: CommitBatch): string {
    const identity = this.o.identity ?? { pid: process.pid, host: hostname() };
    return encodeHeartbeat({
      ts_ms: batch.settings.nowMs,
      pid: identity.pid,
      host: identity.host,
      cycle: batch.cycle,
      symbols: this.o.symbols,
      cadence_sec: this.o.cadenceSec,
    });
  }
}
