/**
 * The cycle's writes: ONE pipeline holding every symbol's commit and the heartbeat. A
 * symbol whose decision can change something (a hold, an event, a ledger write, a status
 * change) gets its own atomic `reconcile_commit` call; steady OK symbols are written in
 * batches by `reconcile_steady`. Calls that meet NOSCRIPT (Redis restarted, SCRIPT FLUSH)
 * are reloaded and only those calls are re-run.
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
import type { Keys } from '../redis/keys.js';
import { isNoScript } from '../redis/lua-script.js';
import {
  type CommitReply,
  type CommitSettings,
  type ScriptCommit,
  type WrongTypeReply,
  decodeCommitReply,
  encodeCommit,
  queueCommit,
  wrongTypeProblem,
} from './commit.js';
import { encodeHeartbeat, heartbeatTtlMs } from '../domain/reconcile-heartbeat.js';
import type { SymbolReads } from './read.js';
import {
  STEADY_BATCH,
  type SteadyRow,
  decodeSteadyReply,
  encodeSteady,
  isSteady,
  queueSteadyBatch,
} from './steady.js';

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

type PipelineResult = [Error | null, unknown];

/** One call on the write pipeline: a symbol's commit script, or a batch of steady symbols. */
type WriteUnit =
  | { kind: 'commit'; index: number; commit: ScriptCommit }
  | { kind: 'steady'; indices: number[]; rows: SteadyRow[] };

export interface CommitWriterOptions {
  redis: Redis;
  keys: Keys;
  cadenceSec: number;
  symbols: number;
  identity?: { pid: number; host: string };
  /** Reloads the scripts after NOSCRIPT. */
  reloadScripts: () => Promise<void>;
  /** Symbols per steady call (default STEADY_BATCH). */
  steadyBatch?: number;
}

export interface CommitBatch {
  decisions: readonly Decision[];
  reads: readonly SymbolReads[];
  settings: CommitSettings;
  /** The cycle number written to the heartbeat. */
  cycle: number;
}

function problemOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function unitIndices(unit: WriteUnit): number[] {
  return unit.kind === 'commit' ? [unit.index] : unit.indices;
}

function firstIndex(unit: WriteUnit): number {
  return unit.kind === 'commit' ? unit.index : (unit.indices[0] ?? 0);
}

type SteadyUnit = Extract<WriteUnit, { kind: 'steady' }>;

/**
 * A cycle's write units, built symbol by symbol (the engine adds each read batch as soon as
 * it is decided, while Redis is still reading the next one). Steady symbols are grouped into
 * steady calls; every other symbol gets its own commit; a symbol that cannot be encoded
 * fails alone.
 */
export class WritePlan {
  readonly units: WriteUnit[] = [];
  readonly failures = new Map<number, string>();
  private steady: SteadyUnit | null = null;

  constructor(
    private readonly keys: Keys,
    private readonly settings: CommitSettings,
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
        this.steady.rows.push(encodeSteady(this.keys, d));
        this.steady.indices.push(index);
        return;
      }
      const ledger = reads?.ledger.kind === 'hash' ? reads.ledger.fields : {};
      this.units.push({
        kind: 'commit',
        index,
        commit: encodeCommit(this.keys, d, ledger, this.settings),
      });
    } catch (error) {
      this.failures.set(index, problemOf(error));
    }
  }
}

export class CommitWriter {
  /** The symbols whose commit failed in the last cycle written. */
  private failing: readonly string[] = [];

  constructor(private readonly o: CommitWriterOptions) {}

  /** An empty plan for a cycle with these settings. */
  plan(settings: CommitSettings): WritePlan {
    return new WritePlan(this.o.keys, settings, this.o.steadyBatch ?? STEADY_BATCH);
  }

  /**
   * Writes one cycle; a per-symbol failure is that symbol's result, a pipeline failure
   * throws. `plan` holds the cycle's symbols already encoded; without it they are encoded here.
   */
  async write(batch: CommitBatch, plan?: WritePlan): Promise<CommitResult[]> {
    const results: CommitResult[] = batch.decisions.map(() => ({
      code: 'error',
      problem: 'not run',
    }));
    const built = plan ?? this.planAll(batch);
    for (const [index, problem] of built.failures) results[index] = { code: 'error', problem };
    // Calls in symbol order, however the batches arrived.
    const units = [...built.units].sort((a, b) => firstIndex(a) - firstIndex(b));
    const expected = [
      ...new Set([
        ...this.failing,
        ...[...built.failures.keys()].map((i) => batch.decisions[i]?.symbol ?? ''),
      ]),
    ]
      .filter((s) => s !== '')
      .sort();
    const noScript = await this.exec(units, results, batch, expected);
    if (noScript.length > 0) {
      await this.o.reloadScripts();
      await this.exec(noScript, results, batch, null);
    }
    const failing = failingSymbols(batch.decisions, results);
    if (!sameList(failing, expected)) {
      const ttl = heartbeatTtlMs(this.o.cadenceSec);
      await this.o.redis.set(
        this.o.keys.reconcileHeartbeat,
        this.heartbeat(batch, failing),
        'PX',
        ttl,
      );
    }
    this.failing = failing;
    return results;
  }

  private planAll(batch: CommitBatch): WritePlan {
    const plan = this.plan(batch.settings);
    batch.decisions.forEach((d, index) => plan.add(index, d, batch.reads[index]));
    return plan;
  }

  private queue(pipeline: ChainableCommander, unit: WriteUnit, nowMs: number): void {
    if (unit.kind === 'commit') queueCommit(pipeline, unit.commit);
    else queueSteadyBatch(pipeline, unit.rows, nowMs);
  }

  /** Records one unit's reply in `results`. */
  private settle(unit: WriteUnit, value: unknown, results: CommitResult[]): void {
    if (unit.kind === 'commit') {
      results[unit.index] = decodeCommitReply(value) ?? {
        code: 'error',
        problem: 'unknown reply from reconcile_commit',
      };
      return;
    }
    const decoded = decodeSteadyReply(value, unit.rows.length);
    unit.indices.forEach((symbolIndex, k) => {
      results[symbolIndex] = decoded?.[k] ?? {
        code: 'error',
        problem: 'unknown reply from reconcile_steady',
      };
    });
  }

  /**
   * Runs `units` (and the heartbeat naming `failing`, unless null); returns the units that
   * met NOSCRIPT.
   */
  private async exec(
    units: readonly WriteUnit[],
    results: CommitResult[],
    batch: CommitBatch,
    failing: readonly string[] | null,
  ): Promise<WriteUnit[]> {
    const withHeartbeat = failing !== null;
    const pipeline = this.o.redis.pipeline();
    for (const unit of units) this.queue(pipeline, unit, batch.settings.nowMs);
    if (withHeartbeat) {
      const ttl = heartbeatTtlMs(this.o.cadenceSec);
      pipeline.set(this.o.keys.reconcileHeartbeat, this.heartbeat(batch, failing), 'PX', ttl);
    }
    const replies = ((await pipeline.exec()) ?? []) as PipelineResult[];
    const noScript: WriteUnit[] = [];
    units.forEach((unit, k) => {
      const [error, value] = replies[k] ?? [new Error('no reply'), null];
      if (error && isNoScript(error)) noScript.push(unit);
      else if (error) {
        for (const i of unitIndices(unit)) results[i] = { code: 'error', problem: error.message };
      } else this.settle(unit, value, results);
    });
    const beat = withHeartbeat ? replies[units.length] : undefined;
    if (beat?.[0]) throw beat[0];
    return noScript;
  }

  private heartbeat(batch: CommitBatch, failing: readonly string[]): string {
    const identity = this.o.identity ?? { pid: process.pid, host: hostname() };
    return encodeHeartbeat({
      ts_ms: batch.settings.nowMs,
      pid: identity.pid,
      host: identity.host,
      cycle: batch.cycle,
      symbols: this.o.symbols,
      cadence_sec: this.o.cadenceSec,
      failing_symbols: failing,
    });
  }
}
