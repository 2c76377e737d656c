/**
 * The cycle's write step: ONE pipeline holding every symbol's commit and the heartbeat. A
 * symbol whose decision can change something (a hold, an event, a ledger write, a status
 * change) gets its own atomic `reconcile_commit` call; steady OK symbols are written in
 * batches by `reconcile_steady`. NOSCRIPT is not handled here: the script layer re-sends
 * the call (src/redis/scripts/script.ts).
 *
 * No partial truth: the heartbeat names the symbols whose commit failed (`failing_symbols`),
 * and the brain denies those symbols `reconcile_engine_down`. The pipeline's heartbeat names
 * the symbols that failed last cycle (and those that could not be encoded); when this
 * cycle's failures differ, the heartbeat is written again at once — one more round trip,
 * only in a cycle where a symbol starts or stops failing.
 */
import { hostname } from 'node:os';
import type { ChainableCommander, Redis } from 'ioredis';
import type { Decision } from '../domain/drift.js';
import { encodeHeartbeat, heartbeatTtlMs } from '../domain/reconcile-heartbeat.js';
import type { Keys } from '../redis/keys.js';
import {
  type CommitArgs,
  type CommitReply,
  type WrongTypeReply,
  reconcileCommit,
} from '../redis/scripts/reconcile-commit.js';
import {
  type SteadyOutcome,
  type SteadyRow,
  reconcileSteady,
} from '../redis/scripts/reconcile-steady.js';
import { queueScript, scriptPipeline } from '../redis/scripts/script.js';
import { type CommitSettings, STATE_FIELDS, commitArgs, wrongTypeProblem } from './commit.js';
import type { SymbolReads } from './read.js';
import { STEADY_BATCH, STEADY_REPLY, isSteady, steadyRow } from './steady.js';

export type CommitResult = CommitReply | WrongTypeReply | { code: 'error'; problem: string };

/** Why a symbol's commit failed (nothing written for it), or null when it did not. */
export function commitFailure(result: CommitResult | null | undefined): string | null {
  if (result === null || result === undefined) return null;
  if (result.code === 'error') return result.problem;
  if (result.code === 'wrong_type') return wrongTypeProblem(result);
  return null;
}

/** The symbols whose commit failed, sorted. */
export function failingSymbols(
  decisions: readonly Decision[],
  results: readonly CommitResult[],
): string[] {
  return decisions
    .filter((d, i) => commitFailure(results[i]) !== null)
    .map((d) => d.symbol)
    .sort();
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** One call on the write pipeline: a symbol's commit script, or a batch of steady symbols. */
type WriteUnit =
  | { kind: 'commit'; index: number; args: CommitArgs }
  | { kind: 'steady'; indices: number[]; rows: SteadyRow[] };
type SteadyUnit = Extract<WriteUnit, { kind: 'steady' }>;

function problemOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function firstIndex(unit: WriteUnit): number {
  return unit.kind === 'commit' ? unit.index : (unit.indices[0] ?? 0);
}

/**
 * Write: a cycle's writes, encoded symbol by symbol as the decisions are taken (the engine
 * adds each read batch as soon as it is decided, while Redis is still reading the next one).
 * Steady symbols are grouped into steady calls; every other symbol gets its own commit; a
 * symbol that cannot be encoded fails alone.
 */
export class CycleWrites {
  readonly units: WriteUnit[] = [];
  readonly failures = new Map<number, string>();
  private steady: SteadyUnit | null = null;

  constructor(
    private readonly keys: Keys,
    readonly settings: CommitSettings,
    private readonly steadyBatch: number,
  ) {}

  /** Adds symbol number `index` of the cycle. */
  add(index: number, d: Decision, reads: SymbolReads | undefined): void {
    try {
      if (reads && isSteady(d, reads)) {
        if (this.steady === null || this.steady.rows.length >= this.steadyBatch) {
          this.steady = { kind: 'steady', indices: [], rows: [] };
          this.units.push(this.steady);
        }
        this.steady.rows.push(steadyRow(d));
        this.steady.indices.push(index);
        return;
      }
      const ledger = reads?.ledger.kind === 'hash' ? reads.ledger.fields : {};
      this.units.push({
        kind: 'commit',
        index,
        args: commitArgs(this.keys, d, ledger, this.settings),
      });
    } catch (error) {
      this.failures.set(index, problemOf(error));
    }
  }
}

export interface CommitWriterOptions {
  redis: Redis;
  keys: Keys;
  cadenceSec: number;
  symbols: number;
  identity?: { pid: number; host: string };
  /** Symbols per steady call (default STEADY_BATCH). */
  steadyBatch?: number;
}

export class CommitWriter {
  /** The symbols whose commit failed in the last cycle written. */
  private failing: readonly string[] = [];

  constructor(private readonly o: CommitWriterOptions) {}

  /** Empty writes for a cycle with these settings. */
  plan(settings: CommitSettings): CycleWrites {
    return new CycleWrites(this.o.keys, settings, this.o.steadyBatch ?? STEADY_BATCH);
  }

  /**
   * Runs a cycle's writes; `decisions` are the cycle's, in the order `writes` indexes them.
   * A per-symbol failure is that symbol's result; a failed heartbeat write throws.
   */
  async write(
    writes: CycleWrites,
    decisions: readonly Decision[],
    cycle: number,
  ): Promise<CommitResult[]> {
    const results: CommitResult[] = decisions.map(() => ({ code: 'error', problem: 'not run' }));
    for (const [index, problem] of writes.failures) results[index] = { code: 'error', problem };
    const expected = [
      ...new Set([
        ...this.failing,
        ...[...writes.failures.keys()].map((i) => decisions[i]?.symbol ?? ''),
      ]),
    ]
      .filter((s) => s !== '')
      .sort();
    const nowMs = writes.settings.nowMs;
    const pipeline = scriptPipeline(this.o.redis, [reconcileCommit, reconcileSteady]);
    // Calls in symbol order, however the batches arrived.
    const units = [...writes.units].sort((a, b) => firstIndex(a) - firstIndex(b));
    for (const unit of units) this.queue(pipeline, unit, nowMs, results);
    pipeline.set(
      this.o.keys.reconcileHeartbeat,
      this.heartbeat(nowMs, cycle, expected),
      'PX',
      this.ttl(),
    );
    const replies = (await pipeline.exec()) ?? [];
    const beat = replies[replies.length - 1];
    if (beat === undefined) throw new Error('the write pipeline returned no replies');
    if (beat[0]) throw beat[0];
    const failing = failingSymbols(decisions, results);
    if (!sameList(failing, expected)) {
      await this.o.redis.set(
        this.o.keys.reconcileHeartbeat,
        this.heartbeat(nowMs, cycle, failing),
        'PX',
        this.ttl(),
      );
    }
    this.failing = failing;
    return results;
  }

  /** Queues one unit; its reply settles its symbols' results as soon as it arrives. */
  private queue(
    pipeline: ChainableCommander,
    unit: WriteUnit,
    nowMs: number,
    results: CommitResult[],
  ): void {
    if (unit.kind === 'commit') {
      queueScript(pipeline, reconcileCommit, unit.args, (error, reply) => {
        results[unit.index] = error
          ? { code: 'error', problem: error.message }
          : (reply as CommitResult);
      });
      return;
    }
    const args = { keys: this.o.keys, nowMs, fields: STATE_FIELDS, rows: unit.rows };
    queueScript(pipeline, reconcileSteady, args, (error, outcomes) => {
      unit.indices.forEach((symbolIndex, k) => {
        results[symbolIndex] = steadyResult(error, outcomes, unit.rows.length, k);
      });
    });
  }

  private ttl(): number {
    return heartbeatTtlMs(this.o.cadenceSec);
  }

  private heartbeat(nowMs: number, cycle: number, failing: readonly string[]): string {
    const identity = this.o.identity ?? { pid: process.pid, host: hostname() };
    return encodeHeartbeat({
      ts_ms: nowMs,
      pid: identity.pid,
      host: identity.host,
      cycle,
      symbols: this.o.symbols,
      cadence_sec: this.o.cadenceSec,
      failing_symbols: failing,
    });
  }
}

/** Row `k` of a steady call: written, refused by key type, or failed with the call. */
function steadyResult(
  error: Error | null,
  outcomes: readonly SteadyOutcome[] | undefined,
  rows: number,
  k: number,
): CommitResult {
  if (error) return { code: 'error', problem: error.message };
  if (outcomes?.length !== rows)
    return {
      code: 'error',
      problem: `reconcile_steady answered for ${outcomes?.length ?? 'no'} of ${rows} rows`,
    };
  const outcome = outcomes[k] as SteadyOutcome;
  if (outcome.kind === 'written') return STEADY_REPLY;
  if (outcome.kind === 'wrong_type')
    return { code: 'wrong_type', key: outcome.key, found: outcome.found };
  return { code: 'error', problem: outcome.problem };
}
