/**
 * What one reconcile cycle produced, per symbol and as a whole: the engine returns it, the
 * observer turns it into metrics and logs, `reconcile --once` prints it. A module of its own
 * so the observer does not import the engine that calls it.
 */
import type { Decision } from '../domain/drift.js';
import type { CommitResult } from './commit-writer.js';
import type { SymbolReads } from './read.js';

export interface SymbolOutcome {
  decision: Decision;
  reads: SymbolReads;
  /** null in a dry run. */
  commit: CommitResult | null;
}

export interface CycleReport {
  cycle: number;
  nowMs: number;
  dryRun: boolean;
  outcomes: SymbolOutcome[];
}
