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

/**
 * The evidence entries a committed outcome shows used: those of a repair that was written,
 * and those the commit refused as already used by a repair or already applied by the brain
 * (they can never justify a repair: the next decision looks for other evidence).
 */
export function evidenceUsedBy(outcome: SymbolOutcome): readonly string[] {
  const { decision: d, commit } = outcome;
  const ids = d.evidence?.entryIds ?? [];
  if (commit === null || ids.length === 0) return [];
  if (commit.code === 'ok') return d.action === 'auto_repair' ? ids : [];
  return commit.code === 'evidence_used' || commit.code === 'evidence_applied' ? ids : [];
}
