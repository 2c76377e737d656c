/**
 * LeaseKeeper against a real Redis, each keeper on its own manual clock (a host of its
 * own): one leader among two, takeover after a release, a paused leader fenced after a
 * takeover, stepping down at the deadline while a renewal hangs, dropAll, stop.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { fixtureKeys, runFencedWrite } from './fenced-write.js';
import { nextTimer, testKeeper, type TestKeeper } from './keeper-harness.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { clearKeys, keyImage } from '../reconcile/key-image.js';

const ROLE = 'reconcile' as const;
/** Epochs come from Redis' clock (lease_acquire): any positive integer; the tests compare them. */
const EPOCH: unknown = expect.any(Number);

describe('LeaseKeeper (real Redis, manual clocks)', () => {
  const t: TestRedis = openTestRedis('keeper');
  const running: TestKeeper[] = [];
  afterAll(async () => {
    for (const k of running) await k.keeper.stop();
    await t.close();
  });
  beforeEach(() => clearKeys(t));

  const keeper = (id: string, leaseMs: number, extra = {}): TestKeeper => {
    const k = testKeeper({ redis: t.redis, keys: t.keys, id, leaseMs, ...extra });
    running.push(k);
    return k;
  };

  it('two keepers: exactly one leads, round after round; the other stays a candidate', async () => {
    const a = keeper('a:1', 60_000);
    const b = keeper('b:1', 60_000);
    for (let round = 0; round < 5; round += 1) {
      await Promise.all([a.keeper.tick(), b.keeper.tick()]);
      const leaders = [a, b].filter((k) => k.keeper.epochOf(ROLE) !== null);
      expect(leaders.map((k) => k.id)).toEqual(['a:1']);
      a.clock.advance(a.keeper.timing.renewEveryMs);
      b.clock.advance(b.keeper.timing.renewEveryMs);
    }
    expect(a.events).toEqual([{ kind: 'elected', role: ROLE, epoch: EPOCH, atMs: 1_000_000 }]);
    expect(b.events).toEqual([]);
  });

  it('started loops: the leader stops (releases) and the other takes over at its next round with a higher epoch', async () => {
    const a = keeper('a:1', 60_000);
    const b = keeper('b:1', 60_000);
    void a.keeper.start();
    await waitFor(() => a.elected().length === 1);
    void b.keeper.start();
    await nextTimer(b.clock); // b's first round is done: held, sleeping until its next round
    expect(b.elected()).toEqual([]);
    await a.keeper.stop();
    const first = a.elected()[0]!.epoch;
    expect(a.lost()).toEqual([
      { kind: 'lost', role: ROLE, reason: 'stopped', epoch: first, atMs: 1_000_000 },
    ]);
    expect(await t.redis.exists(t.keys.lease(ROLE))).toBe(0);
    b.clock.advance((await nextTimer(b.clock)) - b.clock.ms);
    await waitFor(() => b.elected().length === 1);
    expect(b.elected()[0]).toMatchObject({ atMs: 1_000_000 + b.keeper.timing.renewEveryMs });
    expect(b.elected()[0]!.epoch).toBeGreaterThan(first);
    expect(await t.redis.get(t.keys.lease(ROLE))).toBe('b:1');
  });

  it('a leader paused (clock frozen) past its lease: the other takes a higher epoch, the old epoch writes nothing, and on resume its renewal is fenced — one onLost', async () => {
    const leaseMs = 300; // real expiry in Redis while `a` is paused
    const a = keeper('a:1', leaseMs);
    const b = keeper('b:1', leaseMs);
    await a.keeper.tick();
    await b.keeper.tick();
    const old = a.keeper.epochOf(ROLE)!;
    expect(old).toEqual(EPOCH);
    expect(await runFencedWrite(t.redis, write(old, 'a:1'))).toEqual({
      status: 'written',
      fence: old,
    });
    // `a` is paused: no rounds, its clock does not move. `b` keeps trying every lease/3.
    await waitFor(
      async () => {
        b.clock.advance(b.keeper.timing.renewEveryMs);
        await b.keeper.tick();
        return b.elected().length === 1;
      },
      10_000,
      20,
    );
    const current = b.elected()[0]!.epoch;
    expect(current).toBeGreaterThan(old);
    // `a` still believes (its clock stood still), but its writes land nowhere.
    expect(a.keeper.epochOf(ROLE)).toBe(old);
    const before = await keyImage(t);
    expect(await runFencedWrite(t.redis, write(old, 'a:1'))).toEqual({
      status: 'fenced',
      fence: current,
      epoch: old,
    });
    expect(await keyImage(t)).toEqual(before);
    // `a` resumes: its renewal is fenced, it steps down once and stays a candidate.
    a.clock.advance(a.keeper.timing.renewEveryMs);
    await a.keeper.tick();
    expect(a.keeper.epochOf(ROLE)).toBeNull();
    await a.keeper.tick();
    a.keeper.reportFenced(ROLE, current); // its write's reply, reported late: no second onLost
    expect(a.lost()).toEqual([
      { kind: 'lost', role: ROLE, reason: 'fenced', epoch: old, atMs: a.clock.ms },
    ]);
    expect(a.elected()).toHaveLength(1);
    expect(b.keeper.epochOf(ROLE)).toBe(current);
    expect(await t.redis.get(fixtureKeys(t.keys).value)).toBe(`a:1@${old}`);
  });

  it('a leader paused with its clock running: on resume it no longer believes, steps down (expired) before any renewal', async () => {
    const a = keeper('a:1', 60_000);
    await a.keeper.tick();
    const first = a.keeper.epochOf(ROLE)!;
    a.clock.advance(a.keeper.timing.leaseMs - a.keeper.timing.safetyMarginMs - 1);
    expect(a.keeper.epochOf(ROLE)).toBe(first);
    a.clock.advance(1);
    expect(a.keeper.epochOf(ROLE)).toBeNull(); // at the deadline, without any round
    const deadline = a.clock.ms;
    await a.keeper.tick(); // the lease is still its own in Redis: re-taken with a new epoch
    expect(a.events).toEqual([
      { kind: 'elected', role: ROLE, epoch: first, atMs: deadline - 50_000 },
      { kind: 'lost', role: ROLE, reason: 'expired', epoch: first, atMs: deadline },
      { kind: 'elected', role: ROLE, epoch: EPOCH, atMs: deadline },
    ]);
    expect(a.elected()[1]!.epoch).toBeGreaterThan(first);
  });

  it('a write script’s fenced reply ends the term at once (reportFenced), once; a newer term is left alone', async () => {
    const a = keeper('a:1', 60_000);
    await a.keeper.tick();
    const epoch = a.keeper.epochOf(ROLE)!;
    a.keeper.reportFenced(ROLE, epoch); // not above our epoch: nothing happens
    expect(a.keeper.epochOf(ROLE)).toBe(epoch);
    a.keeper.reportFenced(ROLE, epoch + 1);
    a.keeper.reportFenced(ROLE, epoch + 1);
    expect(a.keeper.epochOf(ROLE)).toBeNull();
    expect(a.lost()).toEqual([
      { kind: 'lost', role: ROLE, reason: 'fenced', epoch, atMs: 1_000_000 },
    ]);
  });

  it('dropAll (master switch): every lease forgotten without a Redis call; the next round re-elects with a new epoch', async () => {
    const a = keeper('a:1', 60_000, { roles: ['reconcile', 'brain-poller'] });
    await a.keeper.tick();
    const [first, firstPoller] = a.keeper.leadership().map((l) => l.epoch);
    expect(a.keeper.leadership()).toEqual([
      { role: 'reconcile', epoch: first },
      { role: 'brain-poller', epoch: firstPoller },
    ]);
    a.keeper.dropAll();
    a.keeper.dropAll(); // a second switch before the next round: nothing more to drop
    expect(a.keeper.leadership()).toEqual([]);
    expect(a.lost().map((e) => [e.role, e.reason])).toEqual([
      ['reconcile', 'dropped'],
      ['brain-poller', 'dropped'],
    ]);
    expect(await t.redis.get(t.keys.lease(ROLE))).toBe('a:1'); // untouched
    await a.keeper.tick();
    const again = a.keeper.leadership();
    expect(again.map((l) => l.role)).toEqual(['reconcile', 'brain-poller']);
    expect(again[0]!.epoch).toBeGreaterThan(first!);
    expect(again[1]!.epoch).toBeGreaterThan(firstPoller!);
  });

  it('wrong-typed lease key or a lease without expiry: reported, nobody leads', async () => {
    const a = keeper('a:1', 60_000);
    await t.redis.rpush(t.keys.lease(ROLE), 'squatter');
    await a.keeper.tick();
    expect(a.keeper.epochOf(ROLE)).toBeNull();
    expect(a.errors()).toMatchObject([{ role: ROLE, code: 'REDIS_WRONGTYPE' }]);
    expect(a.errors()[0]?.message).toContain(t.keys.lease(ROLE));
    await t.redis.del(t.keys.lease(ROLE));
    await t.redis.set(t.keys.lease(ROLE), 'ghost:9');
    await a.keeper.tick();
    expect(a.errors()[1]).toMatchObject({ role: ROLE, code: 'CONFLICT' });
    expect(a.errors()[1]?.message).toMatch(/no expiry.*delete the key if ghost:9 is not running/);
    expect(a.elected()).toEqual([]);
  });

  it('a callback that throws is reported and the keeper goes on', async () => {
    const a = keeper('a:1', 60_000, { throwingCallbacks: true });
    await a.keeper.tick();
    const first = a.keeper.epochOf(ROLE);
    expect(first).toEqual(EPOCH);
    expect(a.errors()).toMatchObject([{ message: 'callback bug' }]);
    a.keeper.dropAll();
    await a.keeper.tick();
    expect(a.keeper.epochOf(ROLE)).toBeGreaterThan(first!);
  });

  it('a candidate that finds the lease held tries again when it expires, not a round later (a dead leader is replaced within about a lease)', async () => {
    const a = keeper('a:1', 60_000);
    await a.keeper.tick(); // a leads, then dies: no renewal, no release
    expect(a.keeper.epochOf(ROLE)).not.toBeNull();
    await t.redis.pexpire(t.keys.lease(ROLE), 150); // its lease has 150 ms left in Redis
    const b = keeper('b:1', 60_000);
    const start = b.clock.ms;
    void b.keeper.start();
    // First round done (held): it sleeps until the lease's expiry (PTTL + 1 ms), far before
    // its next round at +20 s.
    const wake = await waitFor(() => b.clock.pending().find((at) => at < start + 20_000) ?? null);
    expect(b.elected()).toEqual([]);
    expect(wake - start).toBeGreaterThan(0);
    expect(wake - start).toBeLessThanOrEqual(151);
    expect(b.keeper.timing.renewEveryMs).toBe(20_000);
    await waitFor(async () => (await t.redis.exists(t.keys.lease(ROLE))) === 0);
    b.clock.advance(wake - b.clock.ms);
    await waitFor(() => b.elected().length === 1);
    expect(b.elected()[0]?.atMs).toBe(wake);
    expect(await t.redis.get(t.keys.lease(ROLE))).toBe('b:1');
  });

  const write = (epoch: number, writer: string) => ({
    keys: t.keys,
    role: ROLE,
    epoch,
    writer,
    value: `${writer}@${epoch}`,
  });
});
