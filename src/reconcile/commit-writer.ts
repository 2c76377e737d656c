/**
 * The cycle's write step: ONE pipeline holding every symbol's commit and the heartbeat. A
 * symbol whose decision can change something (a hold, an event, a ledger write, a status
 * change) gets its own atomic `reconcile_commit` call; steady OK symbols are written in
 * batches by `reconcile_steady`; the heartbeat by `reconcile_heartbeat`. NOSCRIPT is not
 * handled here: the script layer re-sends the call (src/redis/scripts/script.ts).
 *
 * Fenced (SPEC §11): every call carries the epoch the writer's term gives at write time, and
 * each script refuses it below the `reconcile` fence. No term → nothing is queued and the
 * cycle fails (`NOT_LEADER`). A `fenced` reply → the term is told once, and the cycle fails
 * (`FENCED`): all calls of the pipeline check the same fence, so they all refuse — only a
 * new leader's `lease_acquire` running between two of them could let the earlier ones
 * through, and those were still inside this writer's term.
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
import { PosguardError } from '../errors.js';
import { FencedWriteError, NotLeaderError } from '../redis/ha/writer-errors.js';
import type { WriterTerm } from '../redis/ha/writer-term.js';
import type { Keys } from '../redis/keys.js';
import type { FencedResult } from '../redis/scripts/fencing.js';
import {
  type CommitCall,
  type CommitReply,
  type WrongTypeReply,
  reconcileCommit,
} from '../redis/scripts/reconcile-commit.js';
import {
  type HeartbeatWriteResult,
  reconcileHeartbeat,
} from '../redis/scripts/reconcile-heartbeat.js';
import {
  type SteadyOutcome,
  type SteadyRow,
  reconcileSteady,
} from '../redis/scripts/reconcile-steady.js';
import type { WrongTypeResult } from '../redis/scripts/script.js';
import { queueScript, runScript, scriptPipeline } from '../redis/scripts/script.js';
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
  | { kind: 'commit'; index: number; args: CommitCall }
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
  /** The `reconcile` term: the epoch of every write, and where a `fenced` refusal goes. */
  term: WriterTerm;
  /** This instance's id (SPEC §11): the heartbeat names the leader by it. */
  instanceId: string;
  identity?: { pid: number; host: string };
  /** Symbols per steady call (default STEADY_BATCH). */
  steadyBatch?: number;
}

/** What the cycle's pipeline said besides the symbols' results. */
interface PipelineVerdict {
  /** The first `fenced` refusal, if any call was refused. */
  fenced: FencedResult | null;
  heartbeat: HeartbeatWriteResult | Error | null;
}

export class CommitWriter {
  /** The symbols whose commit failed in the last cycle written. */
  private failing: readonly string[] = [];

  constructor(private readonly o: CommitWriterOptions) {}

  /** A new term (SPEC §11): the last cycle's failing symbols were another term's. */
  newTerm(): void {
    this.failing = [];
  }

  /**
   * The epoch to write this cycle with: the term's now, which must still be the one the
   * cycle started in (`startEpoch`, when given) — reads of an older term are not written.
   */
  epochFor(startEpoch?: number): number {
    const epoch = this.o.term.epoch();
    if (epoch === null) throw new NotLeaderError('reconcile', 'reconcile cycle');
    if (startEpoch !== undefined && epoch !== startEpoch) {
      throw new NotLeaderError(
        'reconcile',
        `reconcile cycle started in term ${startEpoch}, now ${epoch}: its reads are not this term's`,
      );
    }
    return epoch;
  }

  /** Empty writes for a cycle with these settings. */
  plan(settings: CommitSettings): CycleWrites {
    return new CycleWrites(this.o.keys, settings, this.o.steadyBatch ?? STEADY_BATCH);
  }

  /**
   * Runs a cycle's writes; `decisions` are the cycle's, in the order `writes` indexes them.
   * A per-symbol failure is that symbol's result; a failed heartbeat write throws. The
   * epoch is the term's at this moment (and must be `startEpoch`, the cycle's, when given):
   * no term throws NOT_LEADER before anything is sent; a `fenced` reply tells the term and
   * throws FENCED.
   */
  async write(
    writes: CycleWrites,
    decisions: readonly Decision[],
    cycle: number,
    startEpoch?: number,
  ): Promise<CommitResult[]> {
    const epoch = this.epochFor(startEpoch);
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
    const pipeline = scriptPipeline(this.o.redis, [
      reconcileCommit,
      reconcileSteady,
      reconcileHeartbeat,
    ]);
    const verdict: PipelineVerdict = { fenced: null, heartbeat: null };
    const fenced = (refusal: FencedResult): void => {
      verdict.fenced ??= refusal;
    };
    // Calls in symbol order, however the batches arrived.
    const units = [...writes.units].sort((a, b) => firstIndex(a) - firstIndex(b));
    for (const unit of units) this.queue(pipeline, unit, { nowMs, epoch, results, fenced });
    const beat = { keys: this.o.keys, epoch, ttlMs: this.ttl() };
    const value = this.heartbeat(nowMs, cycle, expected, epoch);
    queueScript(pipeline, reconcileHeartbeat, { ...beat, value }, (error, reply) => {
      verdict.heartbeat = error ?? reply ?? null;
      if (reply?.status === 'fenced') fenced(reply);
    });
    await pipeline.exec();
    this.settle(verdict.fenced, verdict.heartbeat);
    const failing = failingSymbols(decisions, results);
    if (!sameList(failing, expected)) {
      const again = { ...beat, value: this.heartbeat(nowMs, cycle, failing, epoch) };
      const reply = await runScript(this.o.redis, reconcileHeartbeat, again);
      this.settle(reply.status === 'fenced' ? reply : null, reply);
    }
    this.failing = failing;
    return results;
  }

  /** After a write: a refusal goes to the term once and fails the cycle; so does a failed heartbeat. */
  private settle(
    fenced: FencedResult | null,
    heartbeat: HeartbeatWriteResult | Error | null,
  ): void {
    if (fenced !== null) {
      this.o.term.fenced(fenced);
      throw new FencedWriteError('reconcile', fenced, 'reconcile cycle');
    }
    if (heartbeat === null) throw new Error('the write pipeline returned no heartbeat reply');
    if (heartbeat instanceof Error) throw heartbeat;
    if (heartbeat.status === 'wrong_type') throw heartbeatWrongType(heartbeat);
  }

  /** Queues one unit; its reply settles its symbols' results as soon as it arrives. */
  private queue(pipeline: ChainableCommander, unit: WriteUnit, at: QueueContext): void {
    const { nowMs, epoch, results, fenced } = at;
    if (unit.kind === 'commit') {
      queueScript(pipeline, reconcileCommit, { ...unit.args, epoch }, (error, reply) => {
        if (reply !== undefined && 'status' in reply) {
          fenced(reply);
          results[unit.index] = { code: 'error', problem: 'fenced: nothing written' };
          return;
        }
        results[unit.index] = error
          ? { code: 'error', problem: error.message }
          : (reply as CommitResult);
      });
      return;
    }
    const args = { keys: this.o.keys, epoch, nowMs, fields: STATE_FIELDS, rows: unit.rows };
    queueScript(pipeline, reconcileSteady, args, (error, reply) => {
      if (reply !== undefined && !Array.isArray(reply) && reply.status === 'fenced') fenced(reply);
      unit.indices.forEach((symbolIndex, k) => {
        results[symbolIndex] = steadyResult(error, reply, unit.rows.length, k);
      });
    });
  }

  private ttl(): number {
    return heartbeatTtlMs(this.o.cadenceSec);
  }

  private heartbeat(
    nowMs: number,
    cycle: number,
    failing: readonly string[],
    epoch: number,
  ): string {
    const identity = this.o.identity ?? { pid: process.pid, host: hostname() };
    return encodeHeartbeat({
      ts_ms: nowMs,
      instance: this.o.instanceId,
      epoch,
      pid: identity.pid,
      host: identity.host,
      cycle,
      symbols: this.o.symbols,
      cadence_sec: this.o.cadenceSec,
      failing_symbols: failing,
    });
  }
}

interface QueueContext {
  nowMs: number;
  epoch: number;
  results: CommitResult[];
  fenced: (refusal: FencedResult) => void;
}

function heartbeatWrongType(reply: WrongTypeResult): PosguardError {
  return new PosguardError(
    'REDIS_WRONGTYPE',
    `${reply.key} holds a ${reply.found}, not the heartbeat string: no heartbeat written, so the brain denies reconcile_engine_down (inspect it with redis-cli TYPE, then delete it)`,
  );
}

/** Row `k` of a steady call: written, refused by key type, or failed with the call. */
function steadyResult(
  error: Error | null,
  reply: readonly SteadyOutcome[] | FencedResult | WrongTypeResult | undefined,
  rows: number,
  k: number,
): CommitResult {
  if (error) return { code: 'error', problem: error.message };
  if (reply !== undefined && !Array.isArray(reply)) {
    // The whole call refused: fenced (the cycle fails), or the fence key of another type.
    const refusal = reply as FencedResult | WrongTypeResult;
    if (refusal.status === 'wrong_type')
      return { code: 'wrong_type', key: refusal.key, found: refusal.found };
    return { code: 'error', problem: 'fenced: nothing written' };
  }
  const outcomes = reply as readonly SteadyOutcome[] | undefined;
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
