/**
 * The page's one events reader against a real Redis: live entries reach the pages, the
 * latest ones are kept for pages opened later, and entries written while the stream was
 * unreadable still reach pages that were already open.
 */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import type { EventRecord } from '../../src/redis/event-stream.js';
import { EventTail } from '../../src/web/event-tail.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';

let t: TestRedis;
let tail: EventTail | null = null;
beforeEach(() => {
  t = openTestRedis('tail');
});
afterEach(async () => {
  await tail?.stop();
  tail = null;
  await t.close();
});

const poll = <T>(read: () => T) => expect.poll(read, { timeout: 10_000, interval: 20 });

function startTail(redis: Redis, seen: EventRecord[], backlog = 100): EventTail {
  tail = new EventTail({
    redis,
    stream: t.keys.reconcileEventsStream,
    logger: silentLogger(),
    onEvents: (records) => seen.push(...records),
    backlog,
    blockMs: 200,
    retryMs: 50,
  });
  tail.start();
  return tail;
}

const add = (reason: string): Promise<string | null> =>
  t.redis.xadd(t.keys.reconcileEventsStream, '*', 'event', 'HOLD_SET', 'reason', reason);

describe('EventTail', () => {
  it('hands live entries to the pages and keeps the latest for pages opened later', async () => {
    await add('old-1');
    await add('old-2');
    await add('old-3');
    const seen: EventRecord[] = [];
    const events = startTail(new Redis(t.url, { maxRetriesPerRequest: 1 }), seen, 2);
    await poll(() => events.recent().map((r) => r.fields.reason)).toEqual(['old-2', 'old-3']);
    const id = await add('live');
    await poll(() => seen.map((r) => r.id)).toContain(id);
    expect(events.recent().map((r) => r.fields.reason)).toEqual(['old-3', 'live']);
  });

  it('an entry written while the stream was unreadable still reaches open pages', async () => {
    // The stream key holds a string: every read of the tail fails (WRONGTYPE), as in an outage.
    await t.redis.set(t.keys.reconcileEventsStream, 'not a stream');
    const seen: EventRecord[] = [];
    startTail(new Redis(t.url, { maxRetriesPerRequest: 1 }), seen);
    // Atomically: the stream is back with one entry, which the tail first meets in its backlog.
    const replies = await t.redis
      .multi()
      .del(t.keys.reconcileEventsStream)
      .xadd(t.keys.reconcileEventsStream, '*', 'event', 'HOLD_SET', 'reason', 'while-down')
      .exec();
    const id = replies?.[1]?.[1] as string;
    await poll(() => seen.map((r) => r.id)).toContain(id);
  });
});
