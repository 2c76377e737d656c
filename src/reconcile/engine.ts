/**
 * One reconcile cycle (SPEC §7): one pipelined read for all symbols (the incremental
 * evidence read and one batched read call per few hundred symbols), a pure decision per
 * symbol, one pipelined write (a commit script per symbol that needs one, batched writes of
 * the steady OK symbols, the heartbeat). Round trips per cycle do not grow with the number
 * of symbols.
 */
import type { Redis } from 'ioredis';
import type { LedgerConfig, ReconcileConfig } from '../config/config.js';
import { type Decision, type DriftConfig, decide } from '../domain/drift.js';
import { EvidenceWindow } from '../domain/evidence.js';
import { streamIdMs } from '../domain/identifiers.js';
import type { LedgerRead } from '../domain/ledger.js';
import type { SnapshotRead } from '../domain/snapshot.js';
import type { Clock } from '../domain/time.js';
import type { Logger } from '../observability/logger.js';
import type { Keys } from '../redis/keys.js';
import { reconcileCommitScript } from './commit.js';
import { CommitWriter, type WritePlan } from './commit-writer.js';
import { DecodeMemo } from './decode-memo.js';
import { EvidenceFeed } from './evidence-feed.js';
import type { ReconcileMetrics } from './metrics.js';
import { type SymbolGauges, observeOutcomes } from './observe.js';
import { CycleReader } from './cycle-reader.js';
import { type SymbolReads, planReadBatches, reconcileReadScript } from './read.js';
import { reconcileSteadyScript } from './steady.js';
import type { CycleReport } from './outcome.js';

export type { CommitResult } from './commit-writer.js';
export type { CycleReport, SymbolOutcome } from './outcome.js';

export interface EngineOptions {
  redis: Redis;
  keys: Keys;
  reconcile: ReconcileConfig;
  ledger: LedgerConfig;
  clock: Clock;
  logger: Logger;
  metrics: ReconcileMetrics;
  identity?: { pid: number; host: string };
}

type PipelineResult = [Error | null, unknown];

export class ReconcileEngine {
  private cycle = 0;
  private scriptsLoaded = false;
  /** Whether the server answers PEXPIRETIME (null: not probed yet). */
  private holdExpiryAvailable: boolean | null = null;
  /** Evidence entry ids known to have justified a repair (the NX marker in Redis is the guard). */
  private readonly used = new Set<string>();
  private readonly feed: EvidenceFeed;
  private readonly drift: DriftConfig;
  private readonly symbols: readonly string[];
  /** Symbols whose commit failed, so the failure is logged once, not every cycle. */
  private readonly failingSymbols = new Set<string>();
  /** Symbols whose lost hold was logged in the current episode. */
  private readonly holdLostLogged = new Set<string>();
  /** Gauge values already set, so a cycle only sets the ones that changed. */
  private readonly gauges = new Map<string, SymbolGauges>();
  private readonly writer: CommitWriter;
  private readonly reader: CycleReader;
  /** Decoded hashes reused while their raw fields are unchanged. */
  private readonly decoded = new DecodeMemo();

  constructor(private readonly o: EngineOptions) {
    this.symbols = o.reconcile.allowlist;
    this.drift = {
      exchangeFreshnessSec: o.reconcile.exchangeFreshnessSec,
      qtyDriftTolerancePct: o.reconcile.qtyDriftTolerancePct,
      evidenceWindowSec: o.reconcile.evidenceWindowSec,
    };
    this.writer = new CommitWriter({
      redis: o.redis,
      keys: o.keys,
      cadenceSec: o.reconcile.cadenceSec,
      symbols: this.symbols.length,
      identity: o.identity,
      reloadScripts: () => this.ensureScripts(true),
    });
    const window = new EvidenceWindow(new Set(this.symbols));
    this.feed = new EvidenceFeed(o.redis, o.keys, window, this.windowMs, (id, problem) => {
      o.metrics.badInputTotal.inc({ stream: 'apply.result' });
      o.logger.warn({ entryId: id, problem }, 'bad apply.result entry ignored as evidence');
    });
    this.reader = new CycleReader({
      redis: o.redis,
      feed: this.feed,
      batches: planReadBatches(o.keys, this.symbols),
      loadScripts: (force) => this.ensureScripts(force),
    });
  }

  private get windowMs(): number {
    return this.o.reconcile.evidenceWindowSec * 1000;
  }

  /** Runs one cycle. A dry run reads and decides but writes nothing. */
  async runOnce(options: { dryRun?: boolean } = {}): Promise<CycleReport> {
    const dryRun = options.dryRun ?? false;
    const nowMs = this.o.clock.nowMs();
    if (!this.feed.started) await this.rebuildEvidence(nowMs);
    this.pruneUsed(nowMs);
    const settings = {
      nowMs,
      holdTtlMs: this.o.reconcile.holdTtlSec * 1000,
      ledgerTtlMs: this.o.ledger.ledgerTtlSec * 1000,
      evidenceTtlMs: 2 * this.windowMs,
    };
    let plan: WritePlan | null = null;
    const { reads, decisions } = await this.reader.read({
      begin: () => (plan = dryRun ? null : this.writer.plan(settings)),
      evidenceReady: () => this.feed.window.prune(nowMs - this.windowMs),
      decide: (r) => this.decideOne(r, nowMs),
      // Writes are encoded batch by batch while Redis still reads the next batches.
      decided: (offset, batchReads, batchDecisions) =>
        batchDecisions.forEach((d, i) => plan?.add(offset + i, d, batchReads[i])),
    });
    if (dryRun) {
      return {
        cycle: this.cycle,
        nowMs,
        dryRun,
        outcomes: decisions.map((d, i) => ({
          decision: d,
          reads: reads[i] as SymbolReads,
          commit: null,
        })),
      };
    }
    const commits = await this.writer.write(
      { decisions, reads, settings, cycle: this.cycle + 1 },
      plan ?? undefined,
    );
    this.cycle += 1;
    const outcomes = decisions.map((d, i) => ({
      decision: d,
      reads: reads[i] as SymbolReads,
      commit: commits[i] ?? null,
    }));
    observeOutcomes(outcomes, {
      nowMs,
      metrics: this.o.metrics,
      logger: this.o.logger,
      used: this.used,
      failingSymbols: this.failingSymbols,
      holdLostLogged: this.holdLostLogged,
      gauges: this.gauges,
    });
    this.o.metrics.evidenceFills.set(this.feed.window.size);
    return { cycle: this.cycle, nowMs, dryRun, outcomes };
  }

  /** Start: the last window of apply.result, and which of its fills were already used. */
  private async rebuildEvidence(nowMs: number): Promise<void> {
    const fills = await this.feed.rebuild(nowMs);
    if (fills.length === 0) return;
    const pipeline = this.o.redis.pipeline();
    for (const fill of fills) pipeline.exists(this.o.keys.evidenceUsed(fill.entryId));
    const results = ((await pipeline.exec()) ?? []) as PipelineResult[];
    results.forEach(([error, value], i) => {
      const fill = fills[i];
      if (fill && (error !== null || value === 1)) this.used.add(fill.entryId);
    });
  }

  /** Loads the scripts once (and again after a Redis restart answered NOSCRIPT). */
  private async ensureScripts(force = false): Promise<void> {
    if (this.scriptsLoaded && !force) return;
    for (const script of [reconcileReadScript, reconcileCommitScript, reconcileSteadyScript]) {
      if (force) await this.o.redis.script('LOAD', script.source);
      else await script.ensureLoaded(this.o.redis);
    }
    this.scriptsLoaded = true;
    await this.checkHoldExpiry();
  }

  /**
   * The engine tells its own hold from an operator's by PEXPIRETIME (Redis ≥ 7.0). Without
   * it the commit script keeps every hold like a shared one (fail closed): say so, once per
   * server change, so an operator knows why holds outlive their condition.
   */
  private async checkHoldExpiry(): Promise<void> {
    // A server that refuses COMMAND (ACL) is not probed: the script handles both cases anyway.
    const info = await this.o.redis.command('INFO', 'PEXPIRETIME').catch(() => undefined);
    if (info === undefined) return;
    const available = Array.isArray(info) && info[0] !== null && info[0] !== undefined;
    if (available === this.holdExpiryAvailable) return;
    this.holdExpiryAvailable = available;
    if (!available) {
      this.o.logger.warn(
        {},
        'Redis has no PEXPIRETIME (needs Redis >= 7.0): the engine cannot tell its own holds from an operator SETEX on top, so it never deletes a hold — each lapses within P34_HOLD_TTL_SEC after its condition ends, with no HOLD_CLEARED; upgrade Redis to 7.0 or later',
      );
    }
  }

  private decideOne(reads: SymbolReads, nowMs: number): Decision {
    const { symbol } = reads;
    const { lotSize, epsilon } = this.decoded.lot(symbol, reads.lotSize);
    const snapshot: SnapshotRead =
      reads.snapshot.kind === 'hash'
        ? this.decoded.snapshot(symbol, reads.snapshot.fields)
        : { kind: 'invalid', problem: reads.snapshot.problem };
    const ledger: LedgerRead =
      reads.ledger.kind === 'hash'
        ? this.decoded.ledger(symbol, reads.ledger.fields, epsilon)
        : { kind: 'invalid', problem: reads.ledger.problem, rawVersion: '' };
    return decide({
      symbol,
      snapshot,
      ledger,
      lotSize,
      evidence: this.feed.window.fillsFor(symbol),
      usedEvidence: this.used,
      nowMs,
      config: this.drift,
    });
  }

  private pruneUsed(nowMs: number): void {
    const oldest = nowMs - 2 * this.windowMs;
    for (const id of this.used) if (streamIdMs(id) < oldest) this.used.delete(id);
  }
}
