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
import { type Config, loadConfig } from '../../src/config/config.js';
import { startBrain, type BrainService } from '../../src/brain/service.js';
import { RESULT_GROUP } from '../../src/brain/ledger-updater.js';
import { PLAN_GROUP } from '../../src/brain/plan-evaluator.js';
import { compareStreamIds } from '../../src/domain/identifiers.js';
import { consumePermits } from '../../src/gate/consume-permits.js';
import { readPermits } from '../../src/cli/commands/permit.js';
import { silentLogger } from '../../src/observability/logger.js';
import { buildKeys } from '../../src/redis/keys.js';
import { API_KEY, API_SECRET, type Rig, startRig } from '../exchange/helpers.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import {
  PLAN_PERMITS,
  PLAN_POSITIONS,
  type ResultExpectation,
  type StreamRecord,
  expectationOf,
  fieldsAt,
  loadPeerShapes,
} from '../helpers/peer-shapes.js';
import { type EngineHarness, makeEngine, metricValue, readEvents } from '../reconcile/harness.js';
import { waitFor } from '../brain/helpers.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];
const SHAPES = loadPeerShapes();
const clock = { nowMs: () => Date.now() };

let t: TestRedis;
let rig: Rig | undefined;
let brain: BrainService | undefined;

afterEach(async () => {
  await brain?.stop();
  await rig?.venue.close();
  brain = undefined;
  rig = undefined;
  await t.close();
});

function venue(): Rig['venue'] {
  if (rig === undefined) throw new Error('no venue started');
  return rig.venue;
}

function brainConfig(): Readonly<Config> {
  return loadConfig({
    REDIS_URL: t.url,
    KEY_PREFIX: t.prefix,
    P33_ALLOWLIST: SYMBOLS.join(','),
    P34_ALLOWLIST: SYMBOLS.join(','),
    P33_POLL_SEC: '0.1',
    P33_METRICS_PORT: '0',
    BINANCE_BASE_URL: venue().baseUrl,
    BINANCE_WS_URL: venue().wsUrl,
    BINANCE_API_KEY: API_KEY,
    BINANCE_API_SECRET: API_SECRET,
  });
}

/** Venue at `positions`, the brain polling it, the engine's LEDGER_INIT done. */
async function startStack(positions: Record<string, string>): Promise<EngineHarness> {
  t = openTestRedis('peer');
  rig = await startRig({ symbols: SYMBOLS });
  for (const [symbol, amount] of Object.entries(positions))
    venue().control.setPosition(symbol, amount);
  brain = await startBrain({
    config: brainConfig(),
    logger: silentLogger(),
    consumer: 'peer-test',
  });
  const engine = makeEngine(t.redis, t.keys, clock, {
    url: t.url,
    env: { P34_ALLOWLIST: SYMBOLS.join(',') },
  });
  for (const [symbol, amount] of Object.entries(positions)) {
    await snapshotShows(symbol, new Decimal(amount), 0);
    await waitFor(() => t.redis.hget(t.keys.symbolLotSize(symbol), 'step_size'));
  }
  await engine.engine.runOnce();
  for (const [symbol, amount] of Object.entries(positions))
    expect(await ledgerAmt(symbol)).toEqual(new Decimal(amount));
  return engine;
}

async function snapshotShows(symbol: string, amount: Amount, takenAfterMs: number): Promise<void> {
  await waitFor(async () => {
    const s = await t.redis.hgetall(t.keys.snapshot(symbol));
    if (s.position_amt === undefined) return null;
    return new Decimal(s.position_amt).eq(amount) && Number(s.ts_ms) > takenAfterMs ? true : null;
  });
}

async function ledgerAmt(symbol: string): Promise<Amount> {
  return new Decimal((await t.redis.hget(t.keys.ledger(symbol), 'ledger_amt')) ?? 'NaN');
}

/** Adds the record (its time moved to now); returns the entry id and the fields written. */
async function addResult(
  record: StreamRecord,
): Promise<{ id: string; fields: Record<string, string> }> {
  const fields = fieldsAt(record, Date.now());
  const id = (await t.redis.xadd(
    t.keys.applyResultStream,
    '*',
    ...Object.entries(fields).flat(),
  )) as string;
  return { id, fields };
}

/** The brain's ledger updater has read `id` and holds nothing pending. */
async function handled(id: string): Promise<void> {
  await waitFor(async () => {
    const groups = (await t.redis.xinfo('GROUPS', t.keys.applyResultStream)) as unknown[][];
    for (const g of groups) {
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < g.length; i += 2) info[String(g[i])] = g[i + 1];
      if (info.name !== RESULT_GROUP) continue;
      const last = String(info['last-delivered-id']);
      return compareStreamIds(last, id) >= 0 && Number(info.pending) === 0 ? true : null;
    }
    return null;
  });
}

async function brainBadResults(): Promise<number> {
  const metric = await brain?.metrics.registry.getSingleMetric('p33_bad_input_total')?.get();
  return metric?.values.find((v) => v.labels.stream === 'apply.result')?.value ?? 0;
}

function engineBadResults(engine: EngineHarness): Promise<number> {
  return metricValue(engine.metrics, 'p34_bad_input_total', { stream: 'apply.result' });
}

async function autoRepairs(): Promise<Record<string, string>[]> {
  return (await readEvents(t.redis, t.keys))
    .map((e) => e.fields)
    .filter((f) => f.event === 'AUTO_REPAIR');
}

/** The signed move an unconfirmed order stands for: by its side, else toward flat. */
async function orderMove(symbol: string, want: ResultExpectation): Promise<Amount> {
  if (want.kind !== 'unconfirmed_order') throw new Error('not an order');
  const qty = new Decimal(want.qty);
  if (want.sign !== null) return qty.mul(want.sign);
  return (await ledgerAmt(symbol)).isNegative() ? qty : qty.neg();
}

/** The exchange moves by `move`; the engine sees it and must repair from one order. */
async function revealAndRepair(
  engine: EngineHarness,
  symbol: string,
  move: Amount,
): Promise<Record<string, string>> {
  const before = await autoRepairs();
  const expected = (await ledgerAmt(symbol)).plus(move);
  const revealedAt = Date.now();
  venue().control.externalTrade(symbol, formatAmount(move));
  await snapshotShows(symbol, expected, revealedAt);
  await engine.engine.runOnce();
  const repairs = (await autoRepairs()).slice(before.length);
  expect(repairs.map((r) => [r.symbol, r.evidence_kind])).toEqual([[symbol, 'unconfirmed_order']]);
  expect(await ledgerAmt(symbol)).toEqual(expected);
  return repairs[0] as Record<string, string>;
}

const POSITIONS = { BTCUSDT: '1', ETHUSDT: '-20' };

describe('apply.result records of the earlier system, through the real brain and engine', () => {
  it('one record at a time: fills by exactly their signed change, orders only once the exchange shows them, nothing else', async () => {
    const engine = await startStack(POSITIONS);
    for (const record of SHAPES.apply_result) {
      const symbol = record.fields.symbol as string;
      const want = expectationOf(record);
      const label = `${want.kind}: ${record.shape}`;
      const before = await t.redis.hgetall(t.keys.ledger(symbol));
      const bad = [await brainBadResults(), await engineBadResults(engine)];
      const repairsBefore = (await autoRepairs()).length;
      const movedAt = Date.now();
      if (want.kind === 'fill')
        venue().control.externalTrade(symbol, formatAmount(new Decimal(want.signed)));
      const { id, fields } = await addResult(record);
      await handled(id);
      const after = await t.redis.hgetall(t.keys.ledger(symbol));
      const change = new Decimal(after.ledger_amt ?? 'NaN').minus(before.ledger_amt ?? 'NaN');

      if (want.kind === 'fill') {
        expect(formatAmount(change), label).toBe(formatAmount(new Decimal(want.signed)));
        await snapshotShows(symbol, new Decimal(after.ledger_amt as string), movedAt);
        await engine.engine.runOnce();
      } else if (want.kind === 'unconfirmed_order') {
        expect(change.isZero(), label).toBe(true);
        // The cooldown sees the order: its time is the record's `timestamp` (seconds).
        expect(after.last_order_time_ms, label).toBe(String(Number(fields.timestamp) * 1000));
        await engine.engine.runOnce(); // the exchange has not moved: no repair, nothing changes
        expect(await autoRepairs(), label).toHaveLength(repairsBefore);
        expect(await ledgerAmt(symbol), label).toEqual(new Decimal(after.ledger_amt as string));
        const repair = await revealAndRepair(engine, symbol, await orderMove(symbol, want));
        expect(repair.evidence_entry_ids, label).toBe(id);
        await engine.engine.runOnce(); // exactly once
        expect(await autoRepairs(), label).toHaveLength(repairsBefore + 1);
      } else {
        expect(after, label).toEqual(before);
        await engine.engine.runOnce();
        const counted = want.kind === 'malformed' ? 1 : 0;
        expect([await brainBadResults(), await engineBadResults(engine)], label).toEqual([
          (bad[0] as number) + counted,
          (bad[1] as number) + counted,
        ]);
      }
      if (want.kind !== 'unconfirmed_order')
        expect(await autoRepairs(), label).toHaveLength(repairsBefore);
      expect(await t.redis.hget(t.keys.reconcileState(symbol), 'status'), label).toMatch(
        /^(OK|REPAIRED)$/,
      );
    }
  }, 120_000);

  it('one mixed stream: every fill applied exactly, every unconfirmed order repaired from exactly once, every malformed record counted', async () => {
    const engine = await startStack(POSITIONS);
    const wants = SHAPES.apply_result.map((r) => ({ record: r, want: expectationOf(r) }));
    const fillSum = new Map(SYMBOLS.map((s) => [s, new Decimal(0)]));
    for (const { record, want } of wants) {
      if (want.kind !== 'fill') continue;
      const symbol = record.fields.symbol as string;
      fillSum.set(symbol, (fillSum.get(symbol) as Amount).plus(want.signed));
    }
    const movedAt = Date.now();
    for (const [symbol, sum] of fillSum) venue().control.externalTrade(symbol, formatAmount(sum));
    const ids: string[] = [];
    for (const { record } of wants) ids.push((await addResult(record)).id);
    await handled(ids.at(-1) as string);

    for (const symbol of SYMBOLS) {
      const expected = new Decimal(POSITIONS[symbol as keyof typeof POSITIONS]).plus(
        fillSum.get(symbol) as Amount,
      );
      expect(await ledgerAmt(symbol), symbol).toEqual(expected);
      await snapshotShows(symbol, expected, movedAt);
    }
    const malformed = wants.filter((w) => w.want.kind === 'malformed').length;
    expect(await brainBadResults()).toBe(malformed);
    await engine.engine.runOnce();
    expect(await engineBadResults(engine)).toBe(malformed);
    expect(await autoRepairs()).toEqual([]);
    for (const symbol of SYMBOLS)
      expect(await t.redis.hget(t.keys.reconcileState(symbol), 'status')).toBe('OK');

    // The exchange shows the unconfirmed orders one by one; each justifies exactly one repair.
    const orders = wants
      .map((w, i) => ({ ...w, id: ids[i] as string }))
      .filter((w) => w.want.kind === 'unconfirmed_order');
    const used: string[] = [];
    for (const { record, want } of orders) {
      const symbol = record.fields.symbol as string;
      const repair = await revealAndRepair(engine, symbol, await orderMove(symbol, want));
      used.push(repair.evidence_entry_ids as string);
    }
    // Orders of equal size may be matched in another order; each is used exactly once.
    expect([...used].sort()).toEqual(orders.map((o) => o.id).sort());
    await engine.engine.runOnce();
    expect(await autoRepairs()).toHaveLength(orders.length);
  }, 120_000);
});

describe('apply.plan records of the earlier system, through the real brain', () => {
  it('every plan gets the permit its meaning implies; the real governor key and value pass the gate', async () => {
    const engine = await startStack(PLAN_POSITIONS);
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
      await engine.engine.runOnce(); // keeps the reconcile heartbeat fresh
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
    t = openTestRedis('peer');
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
      t = openTestRedis('peer');
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
