/**
 * One reconcile cycle (SPEC §7), as three steps with a value each:
 *
 * - read   → `CycleReads`: one pipelined read for all symbols (the incremental evidence read
 *            and one batched read call per few hundred symbols) — cycle-reader.ts;
 * - decide → `CycleDecisions`: a pure decision per symbol (src/domain/drift.ts), below;
 * - write  → `CycleWrites`: the decisions encoded as writes, then run as one pipeline (a
 *            commit script per symbol that needs one, batched writes of the steady OK
 *            symbols, the heartbeat) — commit-writer.ts.
 *
 * The steps overlap: each read batch is decided and encoded as soon as its reply arrives,
 * while Redis reads the next batch (the hooks of `CycleReader.read`). Round trips per cycle
 * do not grow with the number of symbols.
 *
 * Leadership (SPEC §11): a writing cycle runs inside one term of the `reconcile` role — it
 * takes the term's epoch before it reads and writes with that same epoch (the write scripts
 * refuse it below the fence); without a term, or when the term changed meanwhile, it fails
 * with NOT_LEADER and writes nothing. `newTerm()` makes the next cycle read everything
 * afresh (the evidence window, the used evidence, the server's PEXPIRETIME), so the first
 * cycle of a term never builds on what an earlier term — or another master — showed.
 */
import type { Redis } from 'ioredis';
import type { LedgerConfig, ReconcileConfig } from '../config/config.js';
import { type Decision, type DriftConfig, decide } from '../domain/drift.js';
import { EvidenceWindow } from '../domain/evidence.js';
import type { Clock } from '../domain/time.js';
import type { Logger } from '../observability/logger.js';
import type { WriterTerm } from '../redis/ha/writer-term.js';
import type { Keys } from '../redis/keys.js';
import type { CommitSettings } from './commit.js';
import { type CommitResult, CommitWriter, type CycleWrites } from './commit-writer.js';
import { type BatchReads, CycleReader, type CycleReads } from './cycle-reader.js';
import { DecodeMemo } from './decode-memo.js';
import { EvidenceFeed } from './evidence-feed.js';
import type { ReconcileMetrics } from './metrics.js';
import { CycleObserver } from './observe.js';
import { type CycleReport, evidenceUsedBy } from './outcome.js';
import { type SymbolReads, planReadBatches } from './read.js';
import { UsedEvidence } from './used-evidence.js';

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
  /** The `reconcile` term (SPEC §11): the epoch of every write, and where `fenced` goes. */
  term: WriterTerm;
  /** This instance's id: the heartbeat names the leader by it. */
  instanceId: string;
  identity?: { pid: number; host: string };
}

/** Decide: one decision per symbol, in allowlist order (the order of `CycleReads`). */
export interface CycleDecisions {
  readonly decisions: readonly Decision[];
}

export class ReconcileEngine {
  private cycle = 0;
  /** Probe PEXPIRETIME at the next cycle: the first, and the first after a failed one. */
  private probeHoldExpiry = true;
  /** Whether the server answers PEXPIRETIME (null: not probed yet). */
  private holdExpiryAvailable: boolean | null = null;
  /** `newTerm()` was called: the next cycle starts from a fresh read. */
  private freshStart = false;
  private readonly used = new UsedEvidence();
  private readonly feed: EvidenceFeed;
  private readonly drift: DriftConfig;
  private readonly symbols: readonly string[];
  private readonly writer: CommitWriter;
  private readonly reader: CycleReader;
  private readonly observer: CycleObserver;
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
      term: o.term,
      instanceId: o.instanceId,
      identity: o.identity,
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
    });
    this.observer = new CycleObserver(o.metrics, o.logger);
  }

  private get windowMs(): number {
    return this.o.reconcile.evidenceWindowSec * 1000;
  }

  /**
   * A new term of the `reconcile` role began (an election, or a re-election after a master
   * switch): the next cycle forgets the incremental state — it rebuilds the evidence window
   * and the used evidence from Redis and probes PEXPIRETIME again — so it reads everything
   * afresh from the current master. Safe to call while a cycle runs: it applies at the
   * start of the next one (the running one cannot write anyway: its term changed).
   */
  newTerm(): void {
    this.freshStart = true;
  }

  /**
   * Runs one cycle. A dry run reads and decides but writes nothing (and needs no term). A
   * writing cycle without a term, or whose term changed before it wrote, throws NOT_LEADER;
   * one whose writes were refused by the fence throws FENCED (the term was told).
   */
  async runOnce(options: { dryRun?: boolean } = {}): Promise<CycleReport> {
    const dryRun = options.dryRun ?? false;
    const nowMs = this.o.clock.nowMs();
    try {
      const epoch = dryRun ? undefined : this.writer.epochFor();
      await this.prepare(nowMs);
      const writes = dryRun ? null : this.writer.plan(this.commitSettings(nowMs));
      const { reads, decisions } = await this.readAndDecide(nowMs, writes);
      if (writes === null) return this.report(nowMs, reads, decisions, null);
      const commits = await this.writer.write(writes, decisions.decisions, this.cycle + 1, epoch);
      this.cycle += 1;
      const report = this.report(nowMs, reads, decisions, commits);
      for (const outcome of report.outcomes) this.used.add(evidenceUsedBy(outcome));
      this.observer.observe(report.outcomes, nowMs);
      this.o.metrics.evidenceFills.set(this.feed.window.size);
      return report;
    } catch (error) {
      // Redis may have restarted or been replaced: probe its PEXPIRETIME again next cycle.
      this.probeHoldExpiry = true;
      throw error;
    }
  }

  /**
   * Read → decide → encode, batch by batch as the read replies arrive (Redis reads the next
   * batch meanwhile). `writes` (null in a dry run) receives each symbol's encoded write.
   */
  private async readAndDecide(
    nowMs: number,
    writes: CycleWrites | null,
  ): Promise<{ reads: CycleReads; decisions: CycleDecisions }> {
    const decisions = new Array<Decision>(this.symbols.length);
    const decideBatch = ({ offset, reads }: BatchReads): void => {
      reads.forEach((r, i) => {
        const d = this.decideOne(r, nowMs);
        decisions[offset + i] = d;
        writes?.add(offset + i, d, r);
      });
    };
    const reads = await this.reader.read({
      evidenceReady: () => this.feed.window.prune(nowMs - this.windowMs),
      batch: decideBatch,
    });
    return { reads, decisions: { decisions } };
  }

  private report(
    nowMs: number,
    { reads }: CycleReads,
    { decisions }: CycleDecisions,
    commits: readonly CommitResult[] | null,
  ): CycleReport {
    return {
      cycle: this.cycle,
      nowMs,
      dryRun: commits === null,
      outcomes: decisions.map((decision, i) => ({
        decision,
        reads: reads[i] as SymbolReads,
        commit: commits === null ? null : (commits[i] ?? null),
      })),
    };
  }

  private commitSettings(nowMs: number): CommitSettings {
    return {
      nowMs,
      holdTtlMs: this.o.reconcile.holdTtlSec * 1000,
      ledgerTtlMs: this.o.ledger.ledgerTtlSec * 1000,
      evidenceTtlMs: 2 * this.windowMs,
    };
  }

  /** Before a cycle: the evidence window at start, used evidence pruned, the server probed. */
  private async prepare(nowMs: number): Promise<void> {
    if (this.freshStart) {
      this.freshStart = false;
      this.feed.reset();
      this.used.clear();
      this.writer.newTerm();
      this.probeHoldExpiry = true;
    }
    if (!this.feed.started) {
      const fills = await this.feed.rebuild(nowMs);
      await this.used.rebuild(this.o.redis, this.o.keys, fills);
    }
    this.used.prune(nowMs - 2 * this.windowMs);
    if (this.probeHoldExpiry) {
      await this.checkHoldExpiry();
      this.probeHoldExpiry = false;
    }
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

  /** Decide one symbol: its hashes through the shared codecs (memoised), then the pure rule. */
  private decideOne(reads: SymbolReads, nowMs: number): Decision {
    const { symbol } = reads;
    const lotSize = this.decoded.lot(symbol, reads.lotSize);
    return decide({
      symbol,
      snapshot: this.decoded.snapshot(symbol, reads.snapshot),
      ledger: this.decoded.ledger(symbol, reads.ledger, lotSize),
      lotSize,
      evidence: this.feed.window.fillsFor(symbol),
      usedEvidence: this.used.set,
      nowMs,
      config: this.drift,
    });
  }
}
