/**
 * Every write script checks the type of every key it touches before its first write
 * (issue 10 item 7; LESSONS #18): a key of the wrong type at any KEYS position is refused
 * with a reply that names THAT key (and the type it holds), and nothing is written — every
 * key's DUMP and expiry are the same before and after. Real Redis.
 */
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CAS_FIELDS, EVENTS_MAXLEN, STATE_FIELDS } from '../../src/reconcile/commit.js';
import { brainApplyFill } from '../../src/redis/scripts/brain-apply-fill.js';
import { brainIssuePermit } from '../../src/redis/scripts/brain-issue-permit.js';
import { gateConsume } from '../../src/redis/scripts/gate-consume.js';
import { manualHold } from '../../src/redis/scripts/manual-hold.js';
import { manualLedger } from '../../src/redis/scripts/manual-ledger.js';
import { reconcileCommit } from '../../src/redis/scripts/reconcile-commit.js';
import { reconcileHeartbeat } from '../../src/redis/scripts/reconcile-heartbeat.js';
import { reconcileSteady } from '../../src/redis/scripts/reconcile-steady.js';
import { runScript } from '../../src/redis/scripts/script.js';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import { testTerm } from '../helpers/terms.js';
import { clearKeys, keyImage } from './key-image.js';
import { T0, ledgerFields } from './fixtures.js';

const SYM = 'BTCUSDT';

type Kind = 'string' | 'hash' | 'stream';

/** Puts a value of another type than `want` under `key`. */
async function spoil(redis: Redis, key: string, want: Kind): Promise<string> {
  await redis.del(key);
  if (want === 'string') {
    await redis.rpush(key, 'not', 'a', 'string');
    return 'list';
  }
  await redis.set(key, 'not a hash or a stream');
  return 'string';
}

/** For each position: spoil it, run, expect the refusal to name it, expect no change. */
async function eachPosition(
  t: TestRedis,
  positions: readonly (readonly [string, Kind])[],
  seed: () => Promise<void>,
  run: () => Promise<unknown>,
  refusal: (key: string, found: string) => unknown,
): Promise<void> {
  for (const [key, want] of positions) {
    await clearKeys(t);
    await seed();
    const found = await spoil(t.redis, key, want);
    const before = await keyImage(t);
    const outcome = await run().then(
      (reply) => ({ reply }),
      (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }),
    );
    expect(outcome, `KEYS position ${key}`).toEqual(refusal(key, found));
    expect(await keyImage(t), `nothing written when ${key} is a ${found}`).toEqual(before);
  }
}

describe('write scripts refuse a key of the wrong type, naming it, writing nothing', () => {
  let t: TestRedis;
  beforeEach(() => {
    t = openTestRedis('wt');
  });
  afterEach(() => t.close());

  it('reconcile_commit (an auto-repair: ledger, evidence markers, hold, state and events)', async () => {
    const ledger = ledgerFields('0.05', T0 - 60_000, { version: 3 });
    const k = {
      hold: t.keys.hold(SYM),
      owner: t.keys.holdOwner(SYM),
      state: t.keys.reconcileState(SYM),
      events: t.keys.reconcileEventsStream,
      ledger: t.keys.ledger(SYM),
      fence: t.keys.fence('reconcile'),
      used: t.keys.evidenceUsed('1767225590000-0'),
      applied: t.keys.resultApplied('1767225590000-0'),
    };
    const expectLedger: Record<string, string> = {};
    for (const f of CAS_FIELDS) expectLedger[f] = ledger[f] ?? '';
    const repair = {
      keys: t.keys,
      epoch: 1,
      symbol: SYM,
      action: 'repair',
      status: 'REPAIRED',
      reason: 'auto_fixed',
      holdPolicy: 'clear',
      nowMs: T0,
      holdTtlMs: 300_000,
      eventsMaxlen: EVENTS_MAXLEN,
      state: { exchange_amt: '0.062' },
      details: {},
      ledgerWrite: {
        expect: expectLedger,
        ledger: { ledger_amt: '0.062', version: '4' },
        event: {},
        ledgerTtlMs: 86_400_000,
        evidenceTtlMs: 600_000,
        appliedTtlMs: 86_400_000,
      },
      repair: { entryIds: ['1767225590000-0'], orderMarker: null },
    } as const;
    expect(reconcileCommit.encode(repair).keys).toEqual(Object.values(k));
    const seed = async (): Promise<void> => {
      await t.redis.set(k.hold, '1', 'PX', 300_000);
      await t.redis.set(k.owner, 'operator-was-here', 'PX', 300_000);
      await t.redis.hset(k.state, { status: 'HOLD', reason: 'qty_mismatch_no_evidence' });
      await t.redis.xadd(k.events, '*', 'event', 'HOLD_SET');
      await t.redis.hset(k.ledger, ledger);
    };
    await eachPosition(
      t,
      [
        [k.hold, 'string'],
        [k.owner, 'string'],
        [k.state, 'hash'],
        [k.events, 'stream'],
        [k.ledger, 'hash'],
        [k.fence, 'string'],
        [k.used, 'string'],
        [k.applied, 'string'],
      ],
      seed,
      () => runScript(t.redis, reconcileCommit, repair),
      (key, found) => ({ reply: { code: 'wrong_type', key, found } }),
    );
  });

  it('reconcile_commit: a status call never touches the ledger, so a wrong-typed one still holds (SPEC §7 row 3)', async () => {
    await t.redis.set(t.keys.ledger(SYM), 'a string ledger');
    const { acquiredEpoch: epoch } = await testTerm(t.redis, t.keys, 'reconcile');
    const reply = await runScript(t.redis, reconcileCommit, {
      keys: t.keys,
      epoch,
      symbol: SYM,
      action: 'status',
      status: 'MANUAL_REQUIRED',
      reason: 'ledger_invalid',
      holdPolicy: 'set',
      nowMs: T0,
      holdTtlMs: 300_000,
      eventsMaxlen: 10_000,
      state: {},
      details: {},
    });
    expect(reply).toMatchObject({ code: 'ok' });
    expect(await t.redis.get(t.keys.hold(SYM))).toBe('1');
    expect(await t.redis.get(t.keys.ledger(SYM))).toBe('a string ledger');
  });

  it('reconcile_steady: the refused row names its key and is not written', async () => {
    const a = t.keys.reconcileState('AUSDT');
    const b = t.keys.reconcileState('BUSDT');
    const rows = [
      { symbol: 'AUSDT', values: STATE_FIELDS.map(() => 'a') },
      { symbol: 'BUSDT', values: STATE_FIELDS.map(() => 'b') },
    ];
    for (const [index, key] of [a, b].entries()) {
      await clearKeys(t);
      const { acquiredEpoch: epoch } = await testTerm(t.redis, t.keys, 'reconcile');
      await t.redis.hset(a, { status: 'OK' });
      await t.redis.hset(b, { status: 'OK' });
      await spoil(t.redis, key, 'hash');
      const dump = (await t.redis.dumpBuffer(key))?.toString('hex');
      const reply = await runScript(t.redis, reconcileSteady, {
        keys: t.keys,
        epoch,
        nowMs: T0,
        fields: STATE_FIELDS,
        rows,
      });
      const refused = { kind: 'wrong_type', key, found: 'string' };
      expect(reply).toEqual(
        index === 0 ? [refused, { kind: 'written' }] : [{ kind: 'written' }, refused],
      );
      expect((await t.redis.dumpBuffer(key))?.toString('hex')).toBe(dump);
    }
  });

  it('reconcile_steady: a fence key of the wrong type refuses the whole batch, naming it', async () => {
    const a = t.keys.reconcileState('AUSDT');
    const fence = t.keys.fence('reconcile');
    await eachPosition(
      t,
      [[fence, 'string']],
      () => t.redis.hset(a, { status: 'OK' }).then(() => undefined),
      () =>
        runScript(t.redis, reconcileSteady, {
          keys: t.keys,
          epoch: 1,
          nowMs: T0,
          fields: STATE_FIELDS,
          rows: [{ symbol: 'AUSDT', values: STATE_FIELDS.map(() => 'a') }],
        }),
      (key, found) => ({ reply: { status: 'wrong_type', key, found } }),
    );
  });

  it('reconcile_heartbeat (the heartbeat and the fence)', async () => {
    const k = { beat: t.keys.reconcileHeartbeat, fence: t.keys.fence('reconcile') };
    await eachPosition(
      t,
      [
        [k.beat, 'string'],
        [k.fence, 'string'],
      ],
      async () => {
        await t.redis.set(k.beat, '{"cycle":1}', 'PX', 60_000);
        await t.redis.set(k.fence, '1');
      },
      () =>
        runScript(t.redis, reconcileHeartbeat, {
          keys: t.keys,
          epoch: 1,
          value: '{"cycle":2}',
          ttlMs: 5000,
        }),
      (key, found) => ({ reply: { status: 'wrong_type', key, found } }),
    );
  });

  it('manual_ledger (ledger set / adopt)', async () => {
    const k = { ledger: t.keys.ledger(SYM), events: t.keys.reconcileEventsStream };
    await eachPosition(
      t,
      [
        [k.ledger, 'hash'],
        [k.events, 'stream'],
      ],
      async () => {
        await t.redis.hset(k.ledger, { ledger_amt: '0.05', version: '3' });
        await t.redis.xadd(k.events, '*', 'event', 'HOLD_SET');
      },
      () =>
        runScript(t.redis, manualLedger, {
          keys: t.keys,
          symbol: SYM,
          expectedVersion: '3',
          ledger: { ledger_amt: '0.062', version: '4' },
          ledgerTtlMs: 86_400_000,
          eventsMaxlen: 10_000,
          event: ['event', 'X'],
        }),
      (key, found) => ({ reply: { status: 'wrong_type', key, found } }),
    );
  });

  it('manual_hold (hold set and hold clear)', async () => {
    const k = {
      hold: t.keys.hold(SYM),
      owner: t.keys.holdOwner(SYM),
      events: t.keys.reconcileEventsStream,
    };
    const positions = [
      [k.hold, 'string'],
      [k.owner, 'string'],
      [k.events, 'stream'],
    ] as const;
    const seed = async (): Promise<void> => {
      await t.redis.set(k.hold, '1', 'PX', 300_000);
      await t.redis.set(k.owner, 'x', 'PX', 300_000);
      await t.redis.xadd(k.events, '*', 'event', 'HOLD_SET');
    };
    for (const change of [{ mode: 'set', ttlMs: 240_000 }, { mode: 'clear' }] as const) {
      await eachPosition(
        t,
        positions,
        seed,
        () =>
          runScript(t.redis, manualHold, {
            keys: t.keys,
            symbol: SYM,
            change,
            eventsMaxlen: 10_000,
            event: ['event', 'X'],
          }),
        (key, found) => ({ reply: { status: 'wrong_type', key, found } }),
      );
    }
  });

  it('brain_apply_fill (ledger, result-applied marker, result stream, order-accounted marker)', async () => {
    const entryId = '1767225590000-0';
    const k = {
      ledger: t.keys.ledger(SYM),
      marker: t.keys.resultApplied(entryId),
      stream: t.keys.applyResultStream,
      order: t.keys.orderAccounted(SYM, '77'),
    };
    await eachPosition(
      t,
      [
        [k.ledger, 'hash'],
        [k.marker, 'string'],
        [k.stream, 'stream'],
        [k.order, 'string'],
      ],
      async () => {
        await t.redis.hset(k.ledger, { ledger_amt: '0.05', version: '3' });
        await t.redis.xadd(k.stream, entryId, 'symbol', SYM);
        await t.redis.xgroup('CREATE', k.stream, 'g', '0');
      },
      () =>
        runScript(t.redis, brainApplyFill, {
          keys: t.keys,
          symbol: SYM,
          entryId,
          expectedVersion: '3',
          fields: { ledger_amt: '0.049', version: '4' },
          orderId: '77',
          group: 'g',
          ledgerTtlMs: 86_400_000,
          markerTtlMs: 600_000,
        }),
      (key, found) => ({ reply: { status: 'wrong_type', key, found } }),
    );
  });

  it('brain_issue_permit (plan-seen marker, permit, ack)', async () => {
    const k = {
      seen: t.keys.planSeen('plan-1'),
      permit: t.keys.permitP33('plan-1'),
      stream: t.keys.applyPlanStream,
    };
    let entryId = '';
    const seed = async (): Promise<void> => {
      entryId = (await t.redis.xadd(k.stream, '*', 'plan_id', 'plan-1')) ?? '';
      await t.redis.xgroup('CREATE', k.stream, 'g', '0');
      await t.redis.xreadgroup('GROUP', 'g', 'c', 'COUNT', 1, 'STREAMS', k.stream, '>');
    };
    await eachPosition(
      t,
      [
        [k.seen, 'string'],
        [k.permit, 'string'],
        [k.stream, 'stream'],
      ],
      seed,
      () =>
        runScript(t.redis, brainIssuePermit, {
          keys: t.keys,
          planId: 'plan-1',
          entryId,
          permitJson: '{}',
          outcome: 'x',
          group: 'g',
          permitTtlMs: 60_000,
          planSeenTtlMs: 3_600_000,
        }),
      (key, found) => ({ reply: { status: 'wrong_type', key, found } }),
    );
  });

  it('gate_consume (governor permit, P3.3 permit): the refusal says which permit, nothing is consumed', async () => {
    const k = { governor: t.keys.permitGovernor('plan-1'), p33: t.keys.permitP33('plan-1') };
    await eachPosition(
      t,
      [
        [k.governor, 'string'],
        [k.p33, 'string'],
      ],
      async () => {
        await t.redis.set(k.governor, JSON.stringify({ granted: true }), 'PX', 60_000);
        await t.redis.set(
          k.p33,
          JSON.stringify({ plan_id: 'plan-1', symbol: SYM, allow: true, safe_close_qty: '0.028' }),
          'PX',
          60_000,
        );
      },
      () => runScript(t.redis, gateConsume, { keys: t.keys, planId: 'plan-1' }),
      (key) => ({
        reply:
          key === k.governor
            ? { status: 'governor_denied', reason: 'wrong_type' }
            : { status: 'missing_or_denied_p33_permit', reason: 'wrong_type' },
      }),
    );
  });
});
