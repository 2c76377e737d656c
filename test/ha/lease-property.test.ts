/**
 * Random interleavings of rounds, pauses, releases and writes among three lease keepers
 * on one real Redis (fast-check; a failing seed is printed to commit, test/helpers/property.ts).
 *
 * The model: a global logical time T that Redis follows — the test expires the lease
 * (PEXPIREAT in the past) once T passes the last acquire/renew + lease, as Redis would.
 * Each keeper has its own clock. `drop` is a keeper's `dropAll` (it saw a master switch;
 * the lease stays in Redis). A paused keeper does nothing; its clock either keeps
 * running (SIGSTOP, GC) or stands still while paused (a suspended VM, a clock that
 * stopped) and lags from then on. A write is taken in two steps — the epoch is read while
 * the keeper leads, the write runs later, maybe after a pause — the window LESSONS #24
 * is about.
 *
 * After every step:
 * - epochs handed out strictly increase; the fence equals the last one;
 * - among keepers whose clock ran true since their last renewal, at most one believes it
 *   leads (the safety margin; a clock that stood still voids this — hence the fence);
 * - among all keepers, at most one believes it leads with the current epoch, none above it;
 * - a write lands iff its epoch is not below the fence; landed epochs never go down; a
 *   refused write changes no key at all (DUMP + expiry of every key);
 * - onElected/onLost alternate per keeper: one onLost per term, for that term's epoch.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { runFencedWrite } from './fenced-write.js';
import { testKeeper, type TestKeeper } from './keeper-harness.js';
import { assertProperty } from '../helpers/property.js';
import { openTestRedis, type TestRedis, uniquePrefix } from '../helpers/redis.js';
import { buildKeys, type Keys } from '../../src/redis/keys.js';
import { keyImage } from '../reconcile/key-image.js';

const ROLE = 'reconcile' as const;
const LEASE_MS = 60_000; // also the real PX: no lease expires by real time during a run
const START = 1_000_000;

type Action =
  | { kind: 'tick'; slot: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'pause'; slot: number; clockStops: boolean }
  | { kind: 'resume'; slot: number }
  | { kind: 'release'; slot: number }
  | { kind: 'drop'; slot: number }
  | { kind: 'prepare'; slot: number }
  | { kind: 'write'; slot: number };

const slot = fc.integer({ min: 0, max: 2 });
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: slot.map((s) => ({ kind: 'tick' as const, slot: s })) },
  {
    weight: 4,
    arbitrary: fc.integer({ min: 1, max: 70_000 }).map((ms) => ({ kind: 'advance' as const, ms })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(slot, fc.boolean())
      .map(([s, clockStops]) => ({ kind: 'pause' as const, slot: s, clockStops })),
  },
  { weight: 2, arbitrary: slot.map((s) => ({ kind: 'resume' as const, slot: s })) },
  { weight: 1, arbitrary: slot.map((s) => ({ kind: 'release' as const, slot: s })) },
  { weight: 1, arbitrary: slot.map((s) => ({ kind: 'drop' as const, slot: s })) },
  { weight: 3, arbitrary: slot.map((s) => ({ kind: 'prepare' as const, slot: s })) },
  { weight: 2, arbitrary: slot.map((s) => ({ kind: 'write' as const, slot: s })) },
);

interface Slot {
  k: TestKeeper;
  generation: number;
  paused: boolean;
  clockStopped: boolean;
  /** T − this keeper's clock at its last confirmed acquire/renew. */
  lagAtConfirm: number;
  /** The epoch a write was prepared with (read while it led), not yet sent. */
  pending: number | null;
  /** onElected/onLost events already checked. */
  seen: number;
}

class World {
  T = START;
  redisExpiry: number | null = null;
  lastEpoch = 0;
  lastWritten = 0;
  /** How often the interesting cases happened (the test checks they did). */
  readonly seen = { fencedWrites: 0, landedWrites: 0, twoBelievers: 0, takeovers: 0 };
  readonly slots: Slot[];

  constructor(
    private readonly t: TestRedis,
    readonly keys: Keys,
  ) {
    this.slots = [0, 1, 2].map((i) => ({
      k: this.keeper(i, 0, START),
      generation: 0,
      paused: false,
      clockStopped: false,
      lagAtConfirm: 0,
      pending: null,
      seen: 0,
    }));
  }

  keeper(i: number, generation: number, clockMs: number): TestKeeper {
    const id = `k${i}:${generation}`;
    return testKeeper({
      redis: this.t.redis,
      keys: this.keys,
      id,
      leaseMs: LEASE_MS,
      startMs: clockMs,
    });
  }

  lag(s: Slot): number {
    return this.T - s.k.clock.ms;
  }

  async step(a: Action): Promise<void> {
    if (a.kind === 'advance') return this.advance(a.ms);
    const s = this.slots[a.slot] as Slot;
    if (a.kind === 'pause') {
      s.paused = true;
      s.clockStopped = a.clockStops;
      return;
    }
    if (a.kind === 'resume') {
      s.paused = false;
      s.clockStopped = false;
      return;
    }
    if (s.paused) return; // a paused process does nothing
    if (a.kind === 'tick') {
      await s.k.keeper.tick();
      if (s.k.keeper.epochOf(ROLE) !== null) {
        this.redisExpiry = this.T + LEASE_MS; // acquired or renewed just now, at Redis time T
        s.lagAtConfirm = this.lag(s);
      }
    } else if (a.kind === 'release') {
      await s.k.keeper.stop();
      if ((await this.t.redis.exists(this.keys.lease(ROLE))) === 0) this.redisExpiry = null;
      this.check(s); // the stopped keeper's last events
      s.generation += 1;
      s.k = this.keeper(a.slot, s.generation, s.k.clock.ms);
      s.seen = 0;
      s.pending = null;
    } else if (a.kind === 'drop') {
      s.k.keeper.dropAll(); // a master switch seen by this keeper: Redis keeps the lease
    } else if (a.kind === 'prepare') {
      s.pending = s.k.keeper.epochOf(ROLE) ?? s.pending;
    } else {
      // A write prepared earlier (maybe before a pause), else one with the epoch it leads with now.
      const epoch = s.pending ?? s.k.keeper.epochOf(ROLE);
      s.pending = null;
      if (epoch !== null) await this.write(s, epoch);
    }
  }

  async advance(ms: number): Promise<void> {
    this.T += ms;
    for (const s of this.slots) if (!s.clockStopped) s.k.clock.advance(ms);
    if (this.redisExpiry !== null && this.T >= this.redisExpiry) {
      await this.t.redis.pexpireat(this.keys.lease(ROLE), 1); // Redis' clock passed the lease
      this.redisExpiry = null;
    }
  }

  async write(s: Slot, epoch: number): Promise<void> {
    const fence = Number(await this.t.redis.get(this.keys.fence(ROLE)));
    const before = await keyImage(this.t);
    const result = await runFencedWrite(this.t.redis, {
      keys: this.keys,
      role: ROLE,
      epoch,
      writer: s.k.id,
      value: `${s.k.id}@${epoch}`,
    });
    if (epoch >= fence) {
      expect(result).toEqual({ status: 'written', fence });
      expect(epoch).toBeGreaterThanOrEqual(this.lastWritten);
      this.lastWritten = epoch;
      this.seen.landedWrites += 1;
    } else {
      expect(result).toEqual({ status: 'fenced', fence, epoch });
      expect(await keyImage(this.t)).toEqual(before);
      s.k.keeper.reportFenced(ROLE, fence);
      this.seen.fencedWrites += 1;
    }
  }

  /** onElected/onLost alternate, epochs strictly increase across all keepers. */
  check(s: Slot): void {
    const terms = s.k.events.filter((e) => e.kind !== 'error');
    for (const e of terms.slice(s.seen)) {
      if (e.kind === 'elected') {
        expect(e.epoch).toBeGreaterThan(this.lastEpoch);
        if (this.lastEpoch > 0) this.seen.takeovers += 1;
        this.lastEpoch = e.epoch;
      }
    }
    s.seen = terms.length;
    terms.forEach((e, i) => {
      expect(e.kind).toBe(i % 2 === 0 ? 'elected' : 'lost');
      if (e.kind === 'lost') expect(e.epoch).toBe((terms[i - 1] as { epoch: number }).epoch);
    });
    expect(s.k.errors()).toEqual([]);
  }

  async invariants(): Promise<void> {
    for (const s of this.slots) this.check(s);
    const fence = Number(await this.t.redis.get(this.keys.fence(ROLE)));
    expect(fence).toBe(this.lastEpoch);
    const believers = this.slots.filter((s) => s.k.keeper.epochOf(ROLE) !== null);
    const honest = believers.filter((s) => this.lag(s) === s.lagAtConfirm);
    expect(honest.length, 'keepers with true clocks that believe they lead').toBeLessThanOrEqual(1);
    if (believers.length > 1) this.seen.twoBelievers += 1;
    const epochs = believers.map((s) => s.k.keeper.epochOf(ROLE) as number);
    expect(epochs.filter((e) => e === fence).length).toBeLessThanOrEqual(1);
    expect(epochs.every((e) => e <= fence)).toBe(true);
  }

  async close(): Promise<void> {
    for (const s of this.slots) await s.k.keeper.stop();
  }
}

describe('leases and fencing under random interleavings (real Redis)', () => {
  const t: TestRedis = openTestRedis('leaseprop');
  afterAll(() => t.close());

  it('never two current leaders, epochs only grow, a fenced write writes nothing', async () => {
    const total = { fencedWrites: 0, landedWrites: 0, twoBelievers: 0, takeovers: 0 };
    await assertProperty(
      fc.asyncProperty(
        fc.array(action, { minLength: 10, maxLength: 60, size: 'max' }),
        async (actions) => {
          const prefix = uniquePrefix('lp');
          const world = new World({ ...t, prefix, keys: buildKeys(prefix) }, buildKeys(prefix));
          try {
            for (const a of actions) {
              await world.step(a);
              await world.invariants();
            }
          } finally {
            await world.close();
            for (const [name, n] of Object.entries(world.seen))
              total[name as keyof typeof total] += n;
          }
        },
      ),
      { numRuns: 150 },
    );
    // The runs did reach the cases the invariants are about.
    expect(total.takeovers).toBeGreaterThan(0);
    expect(total.twoBelievers).toBeGreaterThan(0);
    expect(total.fencedWrites).toBeGreaterThan(0);
    expect(total.landedWrites).toBeGreaterThan(0);
  });
});
