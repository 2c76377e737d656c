/**
 * Every record of `../shared/fixtures/peer_shapes.json` — what the earlier system's services
 * really wrote into the streams and keys we read — through the REAL brain (against the
 * simulated venue over HTTP/WebSocket) and the REAL reconcile engine on real Redis:
 *
 * - apply.result, one record at a time and all of them in one mixed stream: each fill
 *   changes the ledger by exactly its `signed_qty_change`; each order whose fill is not
 *   confirmed changes no ledger amount until the exchange shows it, then AUTO_REPAIRs from
 *   it exactly once; nothing else changes a ledger; every malformed record is counted by
 *   both services.
 * - apply.plan: every plan gets the permit its meaning implies (PLAN_PERMITS).
 * - permits: the real governor's `P:permit:PLAN` value shapes pass the gate once the
 *   template points there; the other services' P3.3 permits (hashes, the old brain's JSON)
 *   are refused clearly and consumed never.
 *
 * The fixtures' times are moved to "now" in each writer's own format (int or float seconds);
 * every other value is written exactly as the fixture holds it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Amount, Decimal, formatAmount } from '../../src/domain/amount.js';
import { loadConfig } from '../../src/config/config.js';
import { PLAN_GROUP } from '../../src/brain/plan-evaluator.js';
import { compareStreamIds } from '../../src/domain/identifiers.js';
import { consumePermits } from '../../src/gate/consume-permits.js';
import { readPermits } from '../../src/cli/commands/permit.js';
import { buildKeys } from '../../src/redis/keys.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import {
  PLAN_PERMITS,
  PLAN_POSITIONS,
  expectationOf,
  fieldsAt,
  loadPeerShapes,
} from '../helpers/peer-shapes.js';
import { PeerStack, SYMBOLS } from '../helpers/peer-stack.js';
import { waitFor } from '../brain/helpers.js';

const SHAPES = loadPeerShapes();

let stack: PeerStack | undefined;
let bare: TestRedis | undefined;

afterEach(async () => {
  await stack?.close();
  await bare?.close();
  stack = undefined;
  bare = undefined;
});

async function startStack(positions: Record<string, string>): Promise<PeerStack> {
  stack = await PeerStack.start(positions);
  return stack;
}

const POSITIONS = { BTCUSDT: '1', ETHUSDT: '-20' };

describe('apply.result records of the earlier system, through the real brain and engine', () => {
  it('one record at a time: fills by exactly their signed change, orders only once the exchange shows them, nothing else', async () => {
    const s = await startStack(POSITIONS);
    const { t } = s;
    for (const record of SHAPES.apply_result) {
      const symbol = record.fields.symbol as string;
      const want = expectationOf(record);
      const label = `${want.kind}: ${record.shape}`;
      const before = await t.redis.hgetall(t.keys.ledger(symbol));
      const bad = [await s.brainBadResults(), await s.engineBadResults()];
      const repairsBefore = (await s.autoRepairs()).length;
      const movedAt = Date.now();
      if (want.kind === 'fill')
        s.venue.control.externalTrade(symbol, formatAmount(new Decimal(want.signed)));
      const { id, fields } = await s.addResult(record);
      await s.handled(id);
      const after = await t.redis.hgetall(t.keys.ledger(symbol));
      const change = new Decimal(after.ledger_amt ?? 'NaN').minus(before.ledger_amt ?? 'NaN');

      if (want.kind === 'fill') {
        expect(formatAmount(change), label).toBe(formatAmount(new Decimal(want.signed)));
        await s.snapshotShows(symbol, new Decimal(after.ledger_amt as string), movedAt);
        await s.engine.engine.runOnce();
      } else if (want.kind === 'unconfirmed_order') {
        expect(change.isZero(), label).toBe(true);
        // The cooldown sees the order: its time is the record's `timestamp` (seconds).
        expect(after.last_order_time_ms, label).toBe(String(Number(fields.timestamp) * 1000));
        await s.engine.engine.runOnce(); // the exchange has not moved: no repair, nothing changes
        expect(await s.autoRepairs(), label).toHaveLength(repairsBefore);
        expect(await s.ledgerAmt(symbol), label).toEqual(new Decimal(after.ledger_amt as string));
        const repair = await s.revealAndRepair(symbol, await s.orderMove(symbol, want));
        expect(repair.evidence_entry_ids, label).toBe(id);
        await s.engine.engine.runOnce(); // exactly once
        expect(await s.autoRepairs(), label).toHaveLength(repairsBefore + 1);
      } else {
        expect(after, label).toEqual(before);
        await s.engine.engine.runOnce();
        const counted = want.kind === 'malformed' ? 1 : 0;
        expect([await s.brainBadResults(), await s.engineBadResults()], label).toEqual([
          (bad[0] as number) + counted,
          (bad[1] as number) + counted,
        ]);
      }
      if (want.kind !== 'unconfirmed_order')
        expect(await s.autoRepairs(), label).toHaveLength(repairsBefore);
      expect(await t.redis.hget(t.keys.reconcileState(symbol), 'status'), label).toMatch(
        /^(OK|REPAIRED)$/,
      );
    }
  }, 120_000);

  it('one mixed stream: every fill applied exactly, every unconfirmed order repaired from exactly once, every malformed record counted', async () => {
    const s = await startStack(POSITIONS);
    const { t } = s;
    const wants = SHAPES.apply_result.map((r) => ({ record: r, want: expectationOf(r) }));
    const fillSum = new Map(SYMBOLS.map((s) => [s, new Decimal(0)]));
    for (const { record, want } of wants) {
      if (want.kind !== 'fill') continue;
      const symbol = record.fields.symbol as string;
      fillSum.set(symbol, (fillSum.get(symbol) as Amount).plus(want.signed));
    }
    const movedAt = Date.now();
    for (const [symbol, sum] of fillSum) s.venue.control.externalTrade(symbol, formatAmount(sum));
    const ids: string[] = [];
    for (const { record } of wants) ids.push((await s.addResult(record)).id);
    await s.handled(ids.at(-1) as string);

    for (const symbol of SYMBOLS) {
      const expected = new Decimal(POSITIONS[symbol as keyof typeof POSITIONS]).plus(
        fillSum.get(symbol) as Amount,
      );
      expect(await s.ledgerAmt(symbol), symbol).toEqual(expected);
      await s.snapshotShows(symbol, expected, movedAt);
    }
    const malformed = wants.filter((w) => w.want.kind === 'malformed').length;
    expect(await s.brainBadResults()).toBe(malformed);
    await s.engine.engine.runOnce();
    expect(await s.engineBadResults()).toBe(malformed);
    expect(await s.autoRepairs()).toEqual([]);
    for (const symbol of SYMBOLS)
      expect(await t.redis.hget(t.keys.reconcileState(symbol), 'status')).toBe('OK');

    // The exchange shows the unconfirmed orders one by one; each justifies exactly one repair.
    const orders = wants
      .map((w, i) => ({ ...w, id: ids[i] as string }))
      .filter((w) => w.want.kind === 'unconfirmed_order');
    const used: string[] = [];
    for (const { record, want } of orders) {
      const symbol = record.fields.symbol as string;
      const repair = await s.revealAndRepair(symbol, await s.orderMove(symbol, want));
      used.push(repair.evidence_entry_ids as string);
    }
    // Orders of equal size may be matched in another order; each is used exactly once.
    expect([...used].sort()).toEqual(orders.map((o) => o.id).sort());
    await s.engine.engine.runOnce();
    expect(await s.autoRepairs()).toHaveLength(orders.length);
  }, 120_000);
});

describe('apply.plan records of the earlier system, through the real brain', () => {
  it('every plan gets the permit its meaning implies; the real governor key and value pass the gate', async () => {
    const s = await startStack(PLAN_POSITIONS);
    const { t } = s;
    const gateConfig = loadConfig({
      REDIS_URL: t.url,
      KEY_PREFIX: t.prefix,
      GATE_GOVERNOR_KEY_TEMPLATE: '{prefix}:permit:{plan_id}',
    });
    const gateKeys = buildKeys(gateConfig.keys.prefix, gateConfig.keys.governorPermitTemplate);
    const granted = SHAPES.governor_permit.filter((g) => g.key.startsWith('quantum:permit:'));
    let allowIndex = 0;
    for (const record of SHAPES.apply_plan) {
      const planId = record.fields.plan_id as string;
      const want = PLAN_PERMITS[planId];
      await s.engine.engine.runOnce(); // keeps the reconcile heartbeat fresh
      const id = (await t.redis.xadd(
        t.keys.applyPlanStream,
        '*',
        ...Object.entries(fieldsAt(record, Date.now())).flat(),
      )) as string;
      if (want === null) {
        await waitFor(async () => {
          const pending = (await t.redis.xpending(t.keys.applyPlanStream, PLAN_GROUP)) as [number];
          const info = (await t.redis.xinfo('GROUPS', t.keys.applyPlanStream)) as unknown[][];
          const last = info.flat().map(String);
          const delivered = last[last.indexOf('last-delivered-id') + 1] ?? '0-0';
          return Number(pending[0]) === 0 && compareStreamIds(delivered, id) >= 0 ? true : null;
        });
        expect(await t.redis.exists(t.keys.permitP33(planId)), record.meaning).toBe(0);
        continue;
      }
      const raw = await waitFor(() => t.redis.get(t.keys.permitP33(planId)));
      const permit = JSON.parse(raw) as Record<string, unknown>;
      const got = permit.allow === true ? String(permit.safe_close_qty) : String(permit.reason);
      expect(got, `${planId}: ${record.meaning}`).toBe(want);
      if (permit.allow !== true) continue;

      // The real governor writes P:permit:PLAN = {"granted": true, …}: with the template
      // pointed there, the gate consumes both permits and returns the brain's quantity.
      const governor = granted[allowIndex++ % granted.length];
      await t.redis.set(
        gateKeys.permitGovernor(planId),
        governor?.value ?? '',
        'EX',
        governor?.ttl_sec ?? 60,
      );
      const result = await consumePermits(t.redis, gateKeys, planId, { waitMs: 0 });
      expect(result.ok && result.safeCloseQty, planId).toBe(want);
      expect(await t.redis.exists(gateKeys.permitGovernor(planId), t.keys.permitP33(planId))).toBe(
        0,
      );
    }
  }, 120_000);
});

describe('permits written by the earlier system', () => {
  it('a governor deny is no permit key: refused missing_permit_or_redis, nothing consumed', async () => {
    const t = openTestRedis('peer');
    bare = t;
    const keys = buildKeys(t.prefix, '{prefix}:permit:{plan_id}');
    const block = SHAPES.governor_permit.find((g) => g.key.includes(':governor:block:'));
    const planId = (block?.key ?? '').split(':').at(-1) as string;
    await t.redis.set(`${t.prefix}:governor:block:${planId}`, block?.value ?? '', 'EX', 3600);
    const p33 = '{"plan_id":"x","symbol":"BTCUSDT","allow":true,"safe_close_qty":0.002}';
    await t.redis.set(keys.permitP33(planId), p33);
    const result = await consumePermits(t.redis, keys, planId, { waitMs: 0 });
    expect(result).toMatchObject({ ok: false, code: 'missing_permit_or_redis' });
    expect(await t.redis.get(keys.permitP33(planId))).toBe(p33);
  });

  it.each(SHAPES.p33_permit.map((p, i) => [i, p.redis_type, p.shape, p] as const))(
    'P3.3 permit %i (%s, %s) is refused clearly by the gate and shown by `permit show`, never consumed',
    async (_i, type, _shape, record) => {
      const t = openTestRedis('peer');
      bare = t;
      const keys = buildKeys(t.prefix, '{prefix}:permit:{plan_id}');
      const planId = record.key.split(':').at(-1) as string;
      const p33Key = keys.permitP33(planId);
      if (record.redis_type === 'hash') await t.redis.hset(p33Key, record.fields ?? {});
      else await t.redis.set(p33Key, record.value ?? '');
      if (record.ttl_sec !== null) await t.redis.expire(p33Key, record.ttl_sec);
      const governor = SHAPES.governor_permit[0];
      await t.redis.set(keys.permitGovernor(planId), governor?.value ?? '', 'EX', 3600);

      // Hashes (a bypass script's) are the wrong type; the old brain's JSON carries no plan_id
      // (and v2 renamed the quantity): neither is a posguard permit.
      const reason = type === 'hash' ? 'wrong_type' : 'invalid';
      const result = await consumePermits(t.redis, keys, planId, { waitMs: 0 });
      expect(result).toMatchObject({
        ok: false,
        code: 'missing_or_denied_p33_permit',
        p33Reason: reason,
      });
      expect(await t.redis.exists(p33Key, keys.permitGovernor(planId))).toBe(2);
      const views = await readPermits(t.redis, keys.permitGovernor(planId), p33Key);
      expect(views.p33).toMatchObject({ state: reason, passes: false });
      expect(views.governor).toMatchObject({ state: 'ok', passes: true });
    },
  );
});
