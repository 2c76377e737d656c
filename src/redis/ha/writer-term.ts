/**
 * What a writer of a leader role (SPEC §11) needs from its leadership, and nothing more:
 * the epoch to pass to every write script of the role, and where a `fenced` refusal goes.
 *
 * The services hand each role's writers the term `LeaseKeeper.term(role)`; a component
 * never looks at leases itself. Writers:
 * - `reconcile`: the engine's commit, steady and heartbeat writes (src/reconcile);
 * - `brain-poller`: snapshot writes (REST poll and user-data stream) and lot sizes (src/brain).
 */
import type { LeaderRole } from '../../domain/leadership.js';
import type { FencedResult } from '../scripts/fencing.js';

export interface WriterTerm {
  readonly role: LeaderRole;
  /**
   * The epoch to write with now, or null: this instance does not lead the role (or its
   * local deadline passed) — write nothing, and say so to the caller.
   */
  epoch(): number | null;
  /**
   * A write script refused with `fenced`: nothing was written. The term ends at once (the
   * keeper steps down, logs once, counts `posguard_fenced_writes_total{role}`).
   */
  fenced(refusal: FencedResult): void;
}
