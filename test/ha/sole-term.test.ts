/**
 * sole-term (SPEC §11): a role's lease for one job as a WriterTerm, or who holds it —
 * against a real Redis.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  LeaseHeldError,
  acquireSoleTerm,
  idleTerm,
  jobInstanceId,
  takeSoleTerm,
} from '../../src/redis/ha/sole-term.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { clearKeys, keyImage } from '../reconcile/key-image.js';

describe('sole-term (real Redis)', () => {
  const t: TestRedis = openTestRedis('sole');
  afterAll(() => t.close());
  beforeEach(() => clearKeys(t));

  const options = (instanceId: string, leaseMs = 60_000) => ({
    redis: t.redis,
    keys: t.keys,
    role: 'reconcile' as const,
    instanceId,
    leaseMs,
  });

  it('takes the lease: a term with the epoch lease_acquire handed out, released after the job', async () => {
    const term = await takeSoleTerm(options('cli-once:h:1'));
    expect(term.role).toBe('reconcile');
    expect(term.epoch()).toBe(term.acquiredEpoch);
    expect(await t.redis.get(t.keys.lease('reconcile'))).toBe('cli-once:h:1');
    expect(await t.redis.get(t.keys.fence('reconcile'))).toBe(String(term.acquiredEpoch));
    expect(await term.release()).toEqual({ status: 'released' });
    expect(term.epoch()).toBeNull();
    expect(await t.redis.exists(t.keys.lease('reconcile'))).toBe(0);
    expect(await term.release()).toBeNull(); // once
  });

  it('refuses while another instance holds the lease: who, and for how long — nothing written', async () => {
    await takeSoleTerm(options('host-b:7', 30_000));
    const before = await keyImage(t);
    const held = await acquireSoleTerm(options('cli-once:h:1'));
    expect(held).toMatchObject({ status: 'held', holder: 'host-b:7' });
    expect(held.status === 'held' && held.ttlMs).toBeGreaterThan(25_000);
    const error = await takeSoleTerm(options('cli-once:h:1')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LeaseHeldError);
    expect(error).toMatchObject({ code: 'CONFLICT', role: 'reconcile', holder: 'host-b:7' });
    expect((error as Error).message).toMatch(
      /^the reconcile lease is held by host-b:7 \(expires in \d+\.\d s unless renewed\)/,
    );
    expect(await keyImage(t)).toEqual(before);
  });

  it('a fenced refusal ends the term: no epoch from then on, the first refusal kept', async () => {
    const term = await takeSoleTerm(options('bench:1'));
    term.fenced({ status: 'fenced', fence: term.acquiredEpoch + 1, epoch: term.acquiredEpoch });
    term.fenced({ status: 'fenced', fence: null, epoch: term.acquiredEpoch });
    expect(term.epoch()).toBeNull();
    expect(term.fencedBy()).toEqual({
      status: 'fenced',
      fence: term.acquiredEpoch + 1,
      epoch: term.acquiredEpoch,
    });
  });

  it('a lease key of another type: REDIS_WRONGTYPE naming it', async () => {
    await t.redis.rpush(t.keys.lease('reconcile'), 'x');
    await expect(takeSoleTerm(options('bench:1'))).rejects.toMatchObject({
      code: 'REDIS_WRONGTYPE',
      message: expect.stringContaining(t.keys.lease('reconcile')) as unknown,
    });
  });

  it('job instance ids are valid key parts; an idle term never leads', () => {
    expect(jobInstanceId('cli-once', 'host-a.example', 4242)).toBe('cli-once:host-a.example:4242');
    expect(jobInstanceId('cli once', 'h st/x', 1)).toBe('cli_once:h_st_x:1');
    expect(jobInstanceId('j', 'h'.repeat(300), 1).length).toBeLessThanOrEqual(128);
    expect(idleTerm('brain-poller').epoch()).toBeNull();
  });
});
