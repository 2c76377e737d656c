/**
 * A leader term for one job (SPEC §11): take a role's lease with `lease_acquire`, hand the
 * job a `WriterTerm` carrying the epoch it got, release the lease when the job is done —
 * or say who holds the lease. For work that runs once instead of under a `LeaseKeeper`:
 * `posguard reconcile --once`, benches, tests.
 *
 * No renewal and no local deadline: the job is short (one cycle). Safety does not rest on
 * the lease: if the job outlasts it and another instance takes the role, the new epoch
 * raises the fence and the role's write scripts refuse the rest of the job's writes
 * (`fenced`, nothing written); the term then reports no epoch.
 */
import type { Redis } from 'ioredis';
import { defaultInstanceId, type LeaderRole } from '../../domain/leadership.js';
import { PosguardError } from '../../errors.js';
import type { Keys } from '../keys.js';
import type { FencedResult } from '../scripts/fencing.js';
import { instanceArg, leaseAcquire } from '../scripts/lease-acquire.js';
import { leaseRelease, type LeaseReleaseResult } from '../scripts/lease-release.js';
import { runScript } from '../scripts/script.js';
import type { WriterTerm } from './writer-term.js';

export interface SoleTermOptions {
  redis: Redis;
  keys: Keys;
  role: LeaderRole;
  /** The job's instance id (`jobInstanceId`): the lease names it while the job runs. */
  instanceId: string;
  /** How long the lease is held if the job never releases it (a crash). */
  leaseMs: number;
}

/** A term of one job: the `WriterTerm` its writers take, and the release. */
export interface SoleTerm extends WriterTerm {
  readonly instanceId: string;
  /** The epoch `lease_acquire` handed out. */
  readonly acquiredEpoch: number;
  /** The refusal that ended the term, or null. */
  fencedBy(): FencedResult | null;
  /**
   * Ends the term (`epoch()` is null from now on) and deletes the lease if it is still
   * ours. Idempotent: later calls answer null without calling Redis.
   */
  release(): Promise<LeaseReleaseResult | null>;
}

export type SoleTermResult =
  | { status: 'acquired'; term: SoleTerm }
  /** Another instance holds the lease: nothing written. `ttlMs` −1 = the lease has no expiry. */
  | { status: 'held'; holder: string; ttlMs: number };

/** Another instance holds the role's lease: the job must not write. */
export class LeaseHeldError extends PosguardError {
  constructor(
    readonly role: LeaderRole,
    readonly leaseKey: string,
    readonly holder: string,
    readonly ttlMs: number,
  ) {
    super(
      'CONFLICT',
      `the ${role} lease is held by ${holder} (${leaseLeft(leaseKey, holder, ttlMs)}): another instance leads ${role}, and two writers of one role would fence each other`,
    );
    this.name = 'LeaseHeldError';
  }
}

function leaseLeft(leaseKey: string, holder: string, ttlMs: number): string {
  if (ttlMs < 0) return `no expiry: delete ${leaseKey} if ${holder} is not running`;
  return `expires in ${(ttlMs / 1000).toFixed(1)} s unless renewed`;
}

/**
 * An instance id for a one-off job, `<job>:<host>:<pid>` (e.g. `cli-once:host-a:4242`):
 * it shows in the lease while the job runs. Characters a key may not hold become `_`.
 */
export function jobInstanceId(job: string, host: string, pid: number): string {
  const safeJob = (job.replace(/[^A-Za-z0-9_.-]/g, '_') || 'job').slice(0, 24);
  const id = `${safeJob}:${defaultInstanceId(host, pid)}`.slice(0, 128);
  return instanceArg({ name: 'jobInstanceId' }, id);
}

/**
 * Takes the role's lease for one job. `held` when another instance holds it; a key of
 * the wrong type (lease, epoch or fence) throws REDIS_WRONGTYPE — nobody leads until it
 * is fixed.
 */
export async function acquireSoleTerm(o: SoleTermOptions): Promise<SoleTermResult> {
  const reply = await runScript(o.redis, leaseAcquire, {
    keys: o.keys,
    role: o.role,
    instanceId: o.instanceId,
    leaseMs: o.leaseMs,
  });
  switch (reply.status) {
    case 'acquired':
      return { status: 'acquired', term: new JobTerm(o, reply.epoch) };
    case 'held':
      return { status: 'held', holder: reply.holder, ttlMs: reply.ttl_ms };
    case 'wrong_type':
      throw new PosguardError(
        'REDIS_WRONGTYPE',
        `${reply.key} holds a ${reply.found}: nobody can lead ${o.role} until it is fixed — delete it if it is the lease; if it is the epoch or fence, set it to an integer above every epoch handed out (never lower)`,
      );
  }
}

/** `acquireSoleTerm`, with `held` as a `LeaseHeldError` naming the holder and its TTL. */
export async function takeSoleTerm(o: SoleTermOptions): Promise<SoleTerm> {
  const result = await acquireSoleTerm(o);
  if (result.status === 'held') {
    throw new LeaseHeldError(o.role, o.keys.lease(o.role), result.holder, result.ttlMs);
  }
  return result.term;
}

/** A term that never leads (a dry run writes nothing, and needs no lease). */
export function idleTerm(role: LeaderRole): WriterTerm {
  return { role, epoch: () => null, fenced: () => undefined };
}

class JobTerm implements SoleTerm {
  readonly role: LeaderRole;
  readonly instanceId: string;
  private refusal: FencedResult | null = null;
  private ended = false;

  constructor(
    private readonly o: SoleTermOptions,
    readonly acquiredEpoch: number,
  ) {
    this.role = o.role;
    this.instanceId = o.instanceId;
  }

  epoch(): number | null {
    return this.ended || this.refusal !== null ? null : this.acquiredEpoch;
  }

  fenced(refusal: FencedResult): void {
    this.refusal ??= refusal;
  }

  fencedBy(): FencedResult | null {
    return this.refusal;
  }

  async release(): Promise<LeaseReleaseResult | null> {
    if (this.ended) return null;
    this.ended = true;
    return runScript(this.o.redis, leaseRelease, {
      keys: this.o.keys,
      role: this.role,
      instanceId: this.instanceId,
      epoch: this.acquiredEpoch,
    });
  }
}
