import { createServer, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { consumePermits } from '../../src/gate/consume-permits.js';
import { luaSource } from '../../src/redis/scripts/script.js';
import { decodePermit } from '../../src/domain/permit.js';
import { p33PermitPasses } from '../../src/gate/permit-codec.js';
import { freePort } from '../../src/dev/redis-server.js';
import { createRedis } from '../../src/redis/connection.js';
import type { Scheduler } from '../../src/runtime/clock.js';
import { ManualClock } from '../helpers/manual-time.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { assertProperty } from '../helpers/property.js';

const GRANTED = JSON.stringify({ granted: true });
const allow = (qty: string | number): string =>
  `{"plan_id":"p","symbol":"BTCUSDT","allow":true,"safe_close_qty":${typeof qty === 'number' ? String(qty) : qty},"exchange_position_amt":0.038}`;
const DENY = JSON.stringify({
  plan_id: 'p',
  symbol: 'BTCUSDT',
  allow: false,
  reason: 'stale_exchange_state',
  details: {},
});

let t: TestRedis;
let plan = 0;
const nextPlan = (): string => `plan-${++plan}`;

async function put(planId: string, governor: string | null, p33: string | null): Promise<void> {
  if (governor !== null) await t.redis.set(t.keys.permitGovernor(planId), governor, 'EX', 60);
  if (p33 !== null) await t.redis.set(t.keys.permitP33(planId), p33, 'EX', 60);
}

async function remaining(planId: string): Promise<number> {
  return t.redis.exists(t.keys.permitGovernor(planId), t.keys.permitP33(planId));
}

beforeEach(() => {
  t = openTestRedis('gate');
});
afterEach(async () => {
  await t.close();
});

describe('consumePermits — both permits pass', () => {
  it('consumes both permits and returns safe_close_qty exactly as written', async () => {
    const id = nextPlan();
    await put(id, GRANTED, allow('0.100000000000000005551115123125'));
    const result = await consumePermits(t.redis, t.keys, id, { waitMs: 0 });
    expect(result).toMatchObject({
      ok: true,
      safeCloseQty: '0.100000000000000005551115123125',
    });
    expect(await remaining(id)).toBe(0);

    // Finer than the codec reads (> 30 decimals): refused, nothing consumed.
    const fine = nextPlan();
    await put(fine, GRANTED, allow('0.1000000000000000055511151231257827'));
    expect(await consumePermits(t.redis, t.keys, fine, { waitMs: 0 })).toMatchObject({
      ok: false,
      code: 'missing_or_denied_p33_permit',
      p33Reason: 'invalid',
    });
    expect(await remaining(fine)).toBe(2);

    const second = nextPlan();
    await put(second, GRANTED, allow('"0.028"'));
    expect(await consumePermits(t.redis, t.keys, second, { waitMs: 0 })).toMatchObject({
      ok: true,
      safeCloseQty: '0.028',
    });
  });

  it('a permit can be used only once', async () => {
    const id = nextPlan();
    await put(id, GRANTED, allow(0.028));
    expect((await consumePermits(t.redis, t.keys, id, { waitMs: 0 })).ok).toBe(true);
    expect(await consumePermits(t.redis, t.keys, id, { waitMs: 0 })).toEqual({
      ok: false,
      code: 'missing_permit_or_redis',
    });
  });

  it('two consumers racing for the same plan: exactly one wins, every round', async () => {
    const other = new Redis(t.url, { maxRetriesPerRequest: 1 });
    try {
      const rounds = Array.from({ length: 150 }, () => nextPlan());
      for (const id of rounds) await put(id, GRANTED, allow(0.5));
      const outcomes = await Promise.all(
        rounds.map(async (id) => {
          const [a, b] = await Promise.all([
            consumePermits(t.redis, t.keys, id, { waitMs: 50 }),
            consumePermits(other, t.keys, id, { waitMs: 50 }),
          ]);
          return [a.ok, b.ok].filter(Boolean).length;
        }),
      );
      expect(outcomes.every((wins) => wins === 1)).toBe(true);
      expect(await t.redis.keys(`${t.prefix}:permit:*`)).toEqual([]);
    } finally {
      other.disconnect();
    }
  });

  it('still works after SCRIPT FLUSH (NOSCRIPT path)', async () => {
    const id = nextPlan();
    await put(id, GRANTED, allow(1));
    // A first call loads the script on this connection, so the next one sends EVALSHA.
    await consumePermits(t.redis, t.keys, nextPlan(), { waitMs: 0 });
    await t.redis.script('FLUSH');
    const sha = createHash('sha1').update(luaSource('gate_consume')).digest('hex');
    expect(await t.redis.script('EXISTS', sha)).toEqual([0]);
    expect(await consumePermits(t.redis, t.keys, id, { waitMs: 0 })).toMatchObject({
      ok: true,
      safeCloseQty: '1',
    });
  });
});

describe('consumePermits — refusals delete nothing', () => {
  it('a deny permit is never consumed; its reason is returned', async () => {
    const id = nextPlan();
    await put(id, GRANTED, DENY);
    expect(await consumePermits(t.redis, t.keys, id, { waitMs: 200 })).toEqual({
      ok: false,
      code: 'missing_or_denied_p33_permit',
      p33Reason: 'stale_exchange_state',
    });
    expect(await remaining(id)).toBe(2);
  });

  it('governor missing → missing_permit_or_redis; the P3.3 permit stays', async () => {
    const id = nextPlan();
    await put(id, null, allow(1));
    expect(await consumePermits(t.redis, t.keys, id, { waitMs: 0 })).toEqual({
      ok: false,
      code: 'missing_permit_or_redis',
    });
    expect(await t.redis.exists(t.keys.permitP33(id))).toBe(1);
  });

  it('governor denied → governor_denied; both permits stay', async () => {
    for (const governor of [
      '{"granted":false}',
      '{"granted":"no"}',
      '{}',
      '1',
      'granted',
      '[true]',
    ]) {
      const id = nextPlan();
      await put(id, governor, allow(1));
      const result = await consumePermits(t.redis, t.keys, id, { waitMs: 0 });
      expect(result.ok === false && result.code).toBe('governor_denied');
      expect(await remaining(id)).toBe(2);
    }
  });

  it('accepts the documented governor forms', async () => {
    for (const granted of ['true', '1', '"true"', '"True"', '"1"', '"yes"']) {
      const id = nextPlan();
      await put(id, `{"granted":${granted},"limits":{"x":1}}`, allow(1));
      expect((await consumePermits(t.redis, t.keys, id, { waitMs: 0 })).ok).toBe(true);
    }
  });

  it('WRONGTYPE permits (hashes from a bypass script) are typed refusals, not errors', async () => {
    const a = nextPlan();
    await t.redis.set(t.keys.permitGovernor(a), GRANTED);
    await t.redis.hset(t.keys.permitP33(a), { allow: 'true', safe_close_qty: '1' });
    expect(await consumePermits(t.redis, t.keys, a, { waitMs: 100 })).toEqual({
      ok: false,
      code: 'missing_or_denied_p33_permit',
      p33Reason: 'wrong_type',
    });
    expect(await remaining(a)).toBe(2);

    const b = nextPlan();
    await t.redis.hset(t.keys.permitGovernor(b), { granted: 'true' });
    await t.redis.set(t.keys.permitP33(b), allow(1));
    expect(await consumePermits(t.redis, t.keys, b, { waitMs: 0 })).toEqual({
      ok: false,
      code: 'governor_denied',
      governorReason: 'wrong_type',
    });
    expect(await remaining(b)).toBe(2);
  });

  it("an allow permit without a usable quantity, or not in the brain's form, is invalid and stays", async () => {
    for (const qty of ['0', '-0.5', '"abc"', 'null', '"1e999"', '"0x10"', '"1,5"']) {
      const id = nextPlan();
      await put(id, GRANTED, allow(qty));
      expect(await consumePermits(t.redis, t.keys, id, { waitMs: 0 })).toEqual({
        ok: false,
        code: 'missing_or_denied_p33_permit',
        p33Reason: 'invalid',
      });
      expect(await remaining(id)).toBe(2);
    }
    for (const permit of [
      '{"plan_id":"p","symbol":"BTCUSDT","allow":"true","safe_close_qty":1}',
      '{"plan_id":"p","symbol":"BTCUSDT","allow":1,"safe_close_qty":1}',
      '{"symbol":"BTCUSDT","allow":true,"safe_close_qty":1}',
      '{"plan_id":"p","allow":true,"safe_close_qty":1}',
      '{"plan_id":"p","symbol":"BTCUSDT","safe_close_qty":1}',
    ]) {
      const planId = nextPlan();
      await put(planId, GRANTED, permit);
      const refused = await consumePermits(t.redis, t.keys, planId, { waitMs: 0 });
      expect([permit, refused]).toEqual([
        permit,
        { ok: false, code: 'missing_or_denied_p33_permit', p33Reason: 'invalid' },
      ]);
      expect(await remaining(planId)).toBe(2);
    }
    const id = nextPlan();
    await put(id, GRANTED, 'not json at all');
    const result = await consumePermits(t.redis, t.keys, id, { waitMs: 0 });
    expect(result.ok === false && result.p33Reason).toBe('invalid');
  });
});

describe('consumePermits — waiting for the brain (LESSONS #3)', () => {
  it('succeeds when the P3.3 permit is written 300 ms after the gate started', async () => {
    const id = nextPlan();
    await put(id, GRANTED, null);
    const late = new Promise<void>((resolve, reject) => {
      setTimeout(() => {
        put(id, null, allow(0.003)).then(resolve, reject);
      }, 300);
    });
    const result = await consumePermits(t.redis, t.keys, id, { waitMs: 5000 });
    await late;
    expect(result).toMatchObject({ ok: true, safeCloseQty: '0.003' });
    expect(await remaining(id)).toBe(0);
  });

  it('waits on the injected clock: backoff 2, 4, 8, 16, 32 then 50 ms until GATE_WAIT_MS, then missing', async () => {
    const id = nextPlan();
    await put(id, GRANTED, null);
    const clock = new ManualClock(0);
    const sleeps: number[] = [];
    const scheduler: Scheduler = {
      after: (ms, fn) => clock.after(ms, fn),
      every: (ms, fn) => clock.every(ms, fn),
      sleep: (ms) => {
        sleeps.push(ms);
        clock.advance(ms);
        return Promise.resolve();
      },
    };
    const result = await consumePermits(t.redis, t.keys, id, { waitMs: 1200, clock, scheduler });
    expect(result).toEqual({
      ok: false,
      code: 'missing_or_denied_p33_permit',
      p33Reason: 'missing',
    });
    expect(sleeps).toEqual([2, 4, 8, 16, 32, ...Array<number>(22).fill(50), 38]);
    expect(clock.nowMs()).toBe(1200);
    expect(await remaining(id)).toBe(1);
  });

  it('without a wait the same late permit is missed', async () => {
    const id = nextPlan();
    await put(id, GRANTED, null);
    expect(await consumePermits(t.redis, t.keys, id, { waitMs: 0 })).toEqual({
      ok: false,
      code: 'missing_or_denied_p33_permit',
      p33Reason: 'missing',
    });
  });

  it('a deny that arrives while waiting ends the wait with its reason', async () => {
    const id = nextPlan();
    await put(id, GRANTED, null);
    setTimeout(() => void put(id, null, DENY), 100);
    const result = await consumePermits(t.redis, t.keys, id, { waitMs: 10_000 });
    expect(result).toEqual({
      ok: false,
      code: 'missing_or_denied_p33_permit',
      p33Reason: 'stale_exchange_state',
    });
    expect(await remaining(id)).toBe(2);
  });

  it('gives up at the deadline of the injected clock', async () => {
    const id = nextPlan();
    await put(id, GRANTED, null);
    let now = 1_000_000;
    let reads = 0;
    const clock = {
      nowMs: () => {
        reads += 1;
        now += 100; // every look at the clock "takes" 100 ms
        return now;
      },
    };
    const result = await consumePermits(t.redis, t.keys, id, { waitMs: 1000, clock });
    expect(result).toMatchObject({ ok: false, p33Reason: 'missing' });
    expect(reads).toBeGreaterThan(2);
    expect(reads).toBeLessThan(20);
  });
});

describe('consumePermits — REDIS_MIN_REPLICAS_ACK (SPEC §11)', () => {
  // The run's redis-server has no replica: WAIT 1 always comes back with 0.
  // (The same against a real master and replica: test/integration/replica-ack.test.ts.)
  it('a consume no replica confirmed is not_replicated: the permits are burned, nothing to execute', async () => {
    const id = nextPlan();
    await put(id, GRANTED, allow(0.028));
    const result = await consumePermits(t.redis, t.keys, id, {
      waitMs: 0,
      minReplicasAck: 1,
      replicaWaitMs: 20,
    });
    expect(result).toMatchObject({ ok: false, code: 'not_replicated' });
    expect(!result.ok && result.detail).toMatch(
      /consumed, but WAIT saw 0 of 1 replicas within 20 ms.*do not execute/,
    );
    expect(await remaining(id)).toBe(0);
  });

  it('a refusal is not waited on: it keeps its own code', async () => {
    const id = nextPlan();
    await put(id, null, allow(0.028));
    const options = { waitMs: 0, minReplicasAck: 1, replicaWaitMs: 20 };
    expect(await consumePermits(t.redis, t.keys, id, options)).toMatchObject({
      ok: false,
      code: 'missing_permit_or_redis',
    });
    await put(id, GRANTED, DENY);
    expect(await consumePermits(t.redis, t.keys, id, options)).toMatchObject({
      ok: false,
      code: 'missing_or_denied_p33_permit',
      p33Reason: 'stale_exchange_state',
    });
  });

  it('0 (the default) sends no WAIT: consumed is ok', async () => {
    const id = nextPlan();
    await put(id, GRANTED, allow(0.028));
    expect(
      await consumePermits(t.redis, t.keys, id, { waitMs: 0, minReplicasAck: 0 }),
    ).toMatchObject({ ok: true, safeCloseQty: '0.028' });
  });
});

describe('consumePermits — Redis unavailable never throws', () => {
  it('an unreachable Redis is missing_permit_or_redis', async () => {
    const port = await freePort();
    const redis = createRedis({ url: `redis://127.0.0.1:${port}`, db: 0 }, { name: 'gate-test' });
    redis.on('error', () => undefined);
    try {
      const result = await consumePermits(redis, t.keys, nextPlan(), { waitMs: 100 });
      expect(result).toMatchObject({ ok: false, code: 'missing_permit_or_redis' });
      expect(result.ok === false && result.detail).toMatch(/^redis: /);
    } finally {
      redis.disconnect();
    }
  });

  it('a Redis that accepts but never answers is missing_permit_or_redis after the call timeout', async () => {
    const sockets: Socket[] = [];
    const server: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    // The server accepts the connection and never answers (a stalled Redis); the offline
    // queue holds the call, so only the gate's own call timeout can end it.
    const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    redis.on('error', () => undefined);
    try {
      const result = await consumePermits(redis, t.keys, nextPlan(), {
        waitMs: 0,
        callTimeoutMs: 200,
      });
      expect(result).toMatchObject({ ok: false, code: 'missing_permit_or_redis' });
      expect(result.ok === false && result.detail).toMatch(/no reply from Redis/);
    } finally {
      redis.disconnect();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('an invalid plan id is refused without touching Redis', async () => {
    const result = await consumePermits(t.redis, t.keys, 'bad plan*', { waitMs: 0 });
    expect(result).toMatchObject({ ok: false, code: 'missing_permit_or_redis' });
  });
});

describe("gate_consume.lua and the brain's permit codec agree", () => {
  it('whatever the script consumes, decodePermit reads as an allow (and the gate bound decides the rest)', async () => {
    const qty = fc.oneof(
      fc.double({ noNaN: true }).map((n) => JSON.stringify(n)),
      fc
        .stringMatching(/^[+-]?\d{0,4}(\.\d{0,4})?([eE][+-]?\d{1,4})?$/)
        .map((s) => JSON.stringify(s)),
      fc.constantFrom(
        '"4E-700"',
        '999999999999999999.9',
        '"1.0000000000000000001e18"',
        '"NaN"',
        '"Infinity"',
        '" 1"',
        '"1 "',
        'true',
        '[1]',
        '{}',
        '1e18',
        '1.0000001e18',
        '"1e18"',
      ),
    );
    await assertProperty(
      fc.asyncProperty(qty, async (q) => {
        const id = nextPlan();
        const json = `{"plan_id":"${id}","symbol":"BTCUSDT","allow":true,"safe_close_qty":${q}}`;
        await put(id, GRANTED, json);
        const expected = p33PermitPasses(decodePermit(json));
        const result = await consumePermits(t.redis, t.keys, id, { waitMs: 0 });
        expect(result.ok).toBe(expected);
        expect(await remaining(id)).toBe(expected ? 0 : 2);
      }),
      { numRuns: 400 },
    );
  });
});
