/**
 * Symbols the poller could not write, per reason (SPEC §3): counted on every poll, logged
 * once when a symbol starts failing and once when it is written again. A poll covers a
 * scope (every allowlisted symbol, or one after a fill): only the symbols it covered can
 * start or stop failing.
 */
import type { Logger } from '../observability/logger.js';
import type { BrainMetrics } from './metrics.js';

export type FlagKind = 'unknown' | 'hedge' | 'ambiguous' | 'wrong_type';

const KINDS: Record<FlagKind, { status: string; message: string }> = {
  unknown: {
    status: 'unknown_symbol',
    message: 'allowlisted symbol absent from positionRisk: snapshot not written (unknown_symbol)',
  },
  hedge: {
    status: 'hedge_mode',
    message:
      'hedge mode (positionSide LONG/SHORT) is not supported: snapshot not written; switch the account to one-way mode',
  },
  ambiguous: {
    status: 'ambiguous',
    message: 'several one-way rows for one symbol: snapshot not written',
  },
  wrong_type: {
    status: 'wrong_type',
    message:
      'snapshot key holds another Redis type: snapshot not written (delete the key; the next poll writes it)',
  },
};

export class SnapshotFlags {
  private readonly flagged: Record<FlagKind, Set<string>> = {
    unknown: new Set(),
    hedge: new Set(),
    ambiguous: new Set(),
    wrong_type: new Set(),
  };

  constructor(
    private readonly metrics: BrainMetrics,
    private readonly logger: Logger,
  ) {}

  /**
   * This poll's failing symbols of one kind, among `scope` (the symbols the poll covered).
   * `details` is logged with the first occurrence.
   */
  note(
    kind: FlagKind,
    failing: readonly string[],
    scope: readonly string[],
    details: Record<string, unknown> = {},
  ): void {
    const { status, message } = KINDS[kind];
    const set = this.flagged[kind];
    const now = new Set(failing);
    for (const symbol of now) this.metrics.snapshotTotal.inc({ symbol, status });
    const fresh = [...now].filter((s) => !set.has(s));
    const cleared = scope.filter((s) => set.has(s) && !now.has(s));
    if (fresh.length > 0)
      this.logger.error({ symbols: fresh.slice(0, 50), count: fresh.length, ...details }, message);
    if (cleared.length > 0)
      this.logger.info({ symbols: cleared.slice(0, 50), status }, 'symbols written again');
    for (const s of fresh) set.add(s);
    for (const s of cleared) set.delete(s);
  }
}
