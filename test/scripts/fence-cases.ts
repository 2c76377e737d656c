/**
 * The fence cases every write script of a leader role must pass against a real Redis
 * (SPEC §11, LESSONS #24): a call that would write (proved at the end: it does write once
 * the fence allows it) writes NOTHING — every key under the test's prefix keeps its DUMP
 * and expiry, byte for byte — when its epoch is below the fence, when the fence is
 * missing, when the fence holds garbage, and when the fence key has another type.
 */
import { expect } from 'vitest';
import type { LeaderRole } from '../../src/domain/leadership.js';
import { leaseAcquire } from '../../src/redis/scripts/lease-acquire.js';
import { runScript } from '../../src/redis/scripts/script.js';
import type { TestRedis } from '../helpers/redis.js';
import { testTerm } from '../helpers/terms.js';
import { keyImage } from '../reconcile/key-image.js';

/** Garbage a fence key may hold: none of it is an epoch. */
export const GARBAGE_FENCES = ['', 'seven', '1.5', '-3', ' 12', '12 ', '0x10', '1e3'];

/**
 * Runs the fence cases; the caller has stored what a writing call needs, and `run(epoch)`
 * makes the call (the same one each time, only the epoch varies).
 */
export async function expectFencedEverywhere(
  t: TestRedis,
  role: LeaderRole,
  run: (epoch: number) => Promise<unknown>,
): Promise<void> {
  const fence = t.keys.fence(role);
  await t.redis.del(t.keys.lease(role)); // whoever held it before the test's terms
  const old = await testTerm(t.redis, t.keys, role, 'old');
  // A takeover while `old` was paused: its lease lapsed, another instance acquired.
  await t.redis.del(t.keys.lease(role));
  const next = await runScript(t.redis, leaseAcquire, {
    keys: t.keys,
    role,
    instanceId: 'test:new',
    leaseMs: 600_000,
  });
  if (next.status !== 'acquired') throw new Error(`takeover failed: ${JSON.stringify(next)}`);
  const current = next.epoch;
  expect(current).toBeGreaterThan(old.acquiredEpoch);

  const nothingWritten = async (epoch: number, expected: unknown, label: string): Promise<void> => {
    const before = await keyImage(t);
    expect(await run(epoch), label).toEqual(expected);
    expect(await keyImage(t), `${label}: every key byte for byte`).toEqual(before);
  };

  // 1. An epoch below the fence (the paused former leader).
  const paused = old.acquiredEpoch;
  await nothingWritten(paused, { status: 'fenced', fence: current, epoch: paused }, 'below');
  // 2. No fence at all (lost with Redis' data): fail closed, even for the current epoch.
  await t.redis.del(fence);
  await nothingWritten(current, { status: 'fenced', fence: null, epoch: current }, 'missing');
  // 3. A fence holding no epoch.
  for (const garbage of GARBAGE_FENCES) {
    await t.redis.set(fence, garbage);
    const label = `garbage ${JSON.stringify(garbage)}`;
    await nothingWritten(current, { status: 'fenced', fence: null, epoch: current }, label);
  }
  // 4. A fence key of another type: refused by the type checks, the key named.
  await t.redis.del(fence);
  await t.redis.rpush(fence, String(current));
  const wrongType = expect.objectContaining({ key: fence, found: 'list' }) as unknown;
  await nothingWritten(current, wrongType, 'wrong type');

  // The same call writes once the fence allows it: the cases above were not vacuous.
  await t.redis.del(fence);
  await t.redis.set(fence, String(current));
  const before = await keyImage(t);
  const written = await run(current);
  expect(written).not.toMatchObject({ status: 'fenced' });
  expect(await keyImage(t), 'the allowed call wrote').not.toEqual(before);
}
