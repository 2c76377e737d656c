/**
 * brain_issue_permit against a real Redis: every status, the single-use guarantee, and
 * the NOSCRIPT path (SCRIPT FLUSH) in a single call and inside a pipeline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureGroup, readGroup } from '../../src/brain/stream-group.js';
import {
  brainIssuePermit,
  type IssuePermitArgs,
} from '../../src/redis/scripts/brain-issue-permit.js';
import { queueScript, runScript, scriptPipeline } from '../../src/redis/scripts/script.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

describe('brain_issue_permit (real Redis)', () => {
  let t: TestRedis;
  beforeAll(() => {
    t = openTestRedis('bip');
  });
  afterAll(() => t.close());

  async function deliver(planId: string): Promise<string> {
    const stream = t.keys.applyPlanStream;
    await ensureGroup(t.redis, stream, 'g', '0');
    const id = (await t.redis.xadd(stream, '*', 'plan_id', planId)) as string;
    await readGroup(t.redis, { stream, group: 'g', consumer: 'c', count: 100, id: '>' });
    return id;
  }

  const args = (planId: string, entryId: string, permitJson: string): IssuePermitArgs => ({
    keys: t.keys,
    planId,
    entryId,
    permitJson,
    outcome: 'allow',
    group: 'g',
    permitTtlMs: 60_000,
    planSeenTtlMs: 3_600_000,
  });

  const pending = async (): Promise<number> =>
    Number(((await t.redis.xpending(t.keys.applyPlanStream, 'g')) as [number])[0]);

  it('issued, then duplicate (no second permit even after the first was consumed), both acked', async () => {
    const id = await deliver('p1');
    expect(await runScript(t.redis, brainIssuePermit, args('p1', id, '{"first":1}'))).toEqual({
      status: 'issued',
    });
    expect(await pending()).toBe(0);
    expect(await t.redis.get(t.keys.permitP33('p1'))).toBe('{"first":1}');
    expect(await t.redis.get(t.keys.planSeen('p1'))).toBe(`allow ${id}`);
    expect(await t.redis.pttl(t.keys.permitP33('p1'))).toBeGreaterThan(55_000);
    await t.redis.del(t.keys.permitP33('p1'));
    const again = await deliver('p1');
    expect(await runScript(t.redis, brainIssuePermit, args('p1', again, '{"second":1}'))).toEqual({
      status: 'duplicate',
    });
    expect(await t.redis.get(t.keys.permitP33('p1'))).toBeNull();
    expect(await pending()).toBe(0);
  });

  it('after SCRIPT FLUSH: a single call and a pipelined call both still run (NOSCRIPT re-sent)', async () => {
    const single = await deliver('p2');
    await t.redis.script('FLUSH');
    expect(await runScript(t.redis, brainIssuePermit, args('p2', single, '{}'))).toEqual({
      status: 'issued',
    });
    const ids = [await deliver('p3'), await deliver('p4')];
    await t.redis.script('FLUSH');
    const pipeline = scriptPipeline(t.redis, [brainIssuePermit]);
    const replies: unknown[] = [];
    ids.forEach((id, i) =>
      queueScript(pipeline, brainIssuePermit, args(`p${i + 3}`, id, '{}'), (error, reply) =>
        replies.push(error ?? reply),
      ),
    );
    await pipeline.exec();
    expect(replies).toEqual([{ status: 'issued' }, { status: 'issued' }]);
    expect(await t.redis.exists(t.keys.permitP33('p3'), t.keys.permitP33('p4'))).toBe(2);
  });

  it('ack=false (REDIS_MIN_REPLICAS_ACK > 0): issued and duplicate leave the entry pending; the duplicate rewrites its marker unchanged', async () => {
    const id = await deliver('p6');
    const unacked = { ...args('p6', id, '{"first":1}'), ack: false };
    expect(await runScript(t.redis, brainIssuePermit, unacked)).toEqual({ status: 'issued' });
    expect(await pending()).toBe(1);
    expect(await t.redis.get(t.keys.permitP33('p6'))).toBe('{"first":1}');
    const marker = await t.redis.get(t.keys.planSeen('p6'));
    const ttl = await t.redis.pttl(t.keys.planSeen('p6'));

    // what the script runs, seen through MONITOR (filtered to this key: files run in parallel)
    const monitor = await t.redis.monitor();
    const seen: string[][] = [];
    monitor.on('monitor', (_time: string, command: string[]) => {
      if (command.includes(t.keys.planSeen('p6'))) seen.push(command);
    });
    const again = { ...args('p6', id, '{"second":1}'), ack: false };
    expect(await runScript(t.redis, brainIssuePermit, again)).toEqual({ status: 'duplicate' });
    expect(await pending()).toBe(1);
    expect(await t.redis.get(t.keys.permitP33('p6'))).toBe('{"first":1}');
    expect(await t.redis.get(t.keys.planSeen('p6'))).toBe(marker);
    const ttlAfter = await t.redis.pttl(t.keys.planSeen('p6'));
    expect(ttlAfter).toBeLessThanOrEqual(ttl);
    expect(ttlAfter).toBeGreaterThan(ttl - 5_000);
    // a write (so the caller's WAIT covers the marker), not a read
    await waitFor(() => (seen.some((c) => c[0]?.toUpperCase() === 'SET') ? true : null));
    monitor.disconnect();
    expect(seen.find((c) => c[0]?.toUpperCase() === 'SET')?.slice(1)).toEqual([
      t.keys.planSeen('p6'),
      marker,
      'KEEPTTL',
    ]);

    // the caller acks after its WAIT; the default (ack) still acks a duplicate
    expect(await runScript(t.redis, brainIssuePermit, args('p6', id, '{}'))).toEqual({
      status: 'duplicate',
    });
    expect(await pending()).toBe(0);
  });

  it('a wrong-typed permit key: typed refusal naming the key, nothing written, not acked', async () => {
    const id = await deliver('p5');
    await t.redis.rpush(t.keys.permitP33('p5'), 'squatter');
    expect(await runScript(t.redis, brainIssuePermit, args('p5', id, '{}'))).toEqual({
      status: 'wrong_type',
      key: t.keys.permitP33('p5'),
      found: 'list',
    });
    expect(await t.redis.exists(t.keys.planSeen('p5'))).toBe(0);
    expect(await pending()).toBe(1);
  });
});
