/**
 * What a writer of a leader role (SPEC §11) throws when it wrote nothing because of its
 * term: no term (`NOT_LEADER`), or a write script refused its epoch (`FENCED`). The caller
 * counts the work as failed; the term (`WriterTerm`) has already been told of a refusal.
 */
import type { LeaderRole } from '../../domain/leadership.js';
import { PosguardError } from '../../errors.js';
import type { FencedResult } from '../scripts/fencing.js';

/** This instance does not lead `role` (or its term changed while the work ran): nothing written. */
export class NotLeaderError extends PosguardError {
  constructor(
    readonly role: LeaderRole,
    what: string,
  ) {
    super('NOT_LEADER', `${what}: this instance does not lead ${role}; nothing written`);
    this.name = 'NotLeaderError';
  }
}

/** A write script refused the writer's epoch: another instance leads `role` now. */
export class FencedWriteError extends PosguardError {
  constructor(
    readonly role: LeaderRole,
    readonly refusal: FencedResult,
    what: string,
  ) {
    super(
      'FENCED',
      `${what}: fenced — the ${role} fence (${refusal.fence === null ? 'missing or unreadable' : refusal.fence}) refused epoch ${refusal.epoch}: another instance took the role (or the fence was lost); the refused writes wrote nothing`,
    );
    this.name = 'FencedWriteError';
  }
}
