/**
 * The KEYS of `../shared/fixtures/peer_shapes.json` — ledger hashes, snapshot hashes and
 * holds exactly as the earlier system's services and operators wrote them — one record at a
 * time through the REAL reconcile engine and the REAL brain (polling the simulated venue over
 * HTTP, issuing permits) on real Redis. Each record's outcome is what its `meaning` implies
 * (LEDGER_MEANINGS, SNAPSHOT_MEANINGS in test/helpers/peer-shapes.ts):
 *
 * - ledger: a described position agrees with an exchange at that position (OK, untouched,
 *   ALLOW) and is a side mismatch against the opposite one — never repaired; metadata only
 *   is initialised from the exchange; an ambiguous hash is `ledger_invalid`, whatever the
 *   exchange shows.
 * - snapshot: the amount, side and age the brain and the engine read (the venue leaves the
 *   symbol out of positionRisk, so the brain never overwrites the fixture); a stale or
 *   foreign-key snapshot holds and denies.
 * - reconcile_hold: honoured (permit denied `reconcile_hold_active`), never shortened or
 *   deleted by the engine, which deletes only its own holds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Decimal, amountsEqual, epsilonFor, formatAmount } from '../../src/domain/amount.js';
import {
  LEDGER_MEANINGS,
  SNAPSHOT_MEANINGS,
  type KeyRecord,
  keyUnder,
  loadPeerShapes,
} from '../helpers/peer-shapes.js';
import { PeerStack } from '../helpers/peer-stack.js';
import { addPlan, waitFor } from '../brain/helpers.js';

const SHAPES = loadPeerShapes();
const EPS = epsilonFor(new Decimal('0.001'));

let stack: PeerStack | undefined;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

function symbolOf(record: KeyRecord): string {
  return record.key.split(':').at(-1) as string;
}

/** HSET the record's fields exactly (+EXPIRE when it has a TTL), under the test's prefix. */
async function writeHash(
  s: PeerStack,
  record: KeyRecord,
  fields = record.fields ?? {},
): Promise<void> {
  const key = keyUnder(s.t.prefix, record.key);
  await s.t.redis.del(key);
  await s.t.redis.hset(key, fields);
  if (record.ttl_sec !== null) await s.t.redis.expire(key, record.ttl_sec);
}

async function eventsOf(
  s: PeerStack,
  symbol: string,
  name?: string,
): Promise<Record<string, string>[]> {
  return (await s.events(name)).filter((e) => e.symbol === symbol);
}

/** The engine's state for the symbol after one cycle. */
async function cycle(s: PeerStack, symbol: string): Promise<{ status: string; reason: string }> {
  await s.engine.engine.runOnce();
  const state = await s.t.redis.hgetall(s.t.keys.reconcileState(symbol));
  return { status: state.status ?? '', reason: state.reason ?? '' };
}

let planCount = 0;

/** A full reduce-only close of `symbol` through the brain: its permit. */
async function closePermit(s: PeerStack, symbol: string): Promise<Record<string, unknown>> {
  await s.engine.engine.runOnce(); // the reconcile heartbeat the brain requires is fresh
  const planId = `peer-close-${planCount++}`;
  await addPlan(s.t.redis, s.t.keys, planId, symbol, { action: 'FULL_CLOSE_PROPOSED' });
  const raw = await waitFor(() => s.t.redis.get(s.t.keys.permitP33(planId)));
  return JSON.parse(raw) as Record<string, unknown>;
}

function verdict(permit: Record<string, unknown>): string {
  return permit.allow === true ? `ALLOW ${String(permit.safe_close_qty)}` : String(permit.reason);
}

function failedReasons(permit: Record<string, unknown>): string[] {
  const details = permit.details as { failed?: { reason: string }[] } | undefined;
  return (details?.failed ?? []).map((f) => f.reason);
}

/** A brain gauge's value for the symbol, once `accept` takes it (gauges read Redis at scrape). */
async function brainGauge(
  s: PeerStack,
  name: string,
  symbol: string,
  accept: (value: number | undefined) => boolean,
): Promise<number | undefined> {
  let last: number | undefined;
  await waitFor(async () => {
    const metric = await s.brain.metrics.registry.getSingleMetric(name)?.get();
    last = metric?.values.find((v) => v.labels.symbol === symbol)?.value;
    return accept(last) ? true : null;
  });
  return last;
}

describe('ledger hashes of the earlier system, through the real engine and brain', () => {
  it.each(SHAPES.ledger.map((r, i) => [i, r.shape, r] as const))(
    'ledger %i (%s)',
    async (i, _shape, record) => {
      const meaning = LEDGER_MEANINGS[i];
      const symbol = symbolOf(record);
      const fields = record.fields ?? {};
      const label = `${i}: ${record.meaning}`;
      const position = meaning?.kind === 'position' ? meaning.amount : '0.002';
      const s = await PeerStack.start({ [symbol]: position }, { initLedgers: false });
      stack = s;
      const ledgerKey = s.t.keys.ledger(symbol);
      await writeHash(s, record);

      if (meaning?.kind === 'no_amount') {
        // Order metadata only: the engine initialises the amount from the exchange, keeping
        // the order fields, and the stale last_side (UNKNOWN) is rewritten with the amount.
        expect(await cycle(s, symbol), label).toEqual({ status: 'OK', reason: 'ledger_init' });
        const after = await s.t.redis.hgetall(ledgerKey);
        expect(after, label).toMatchObject({
          ledger_amt: position,
          last_known_amt: position,
          last_side: 'LONG',
          source: 'p34_init',
          last_order_id: fields.last_order_id,
        });
        expect(await eventsOf(s, symbol, 'LEDGER_INIT'), label).toHaveLength(1);
        expect(verdict(await closePermit(s, symbol)), label).toBe(`ALLOW ${position}`);
        return;
      }

      if (meaning?.kind === 'ambiguous') {
        // An absolute amount beside an ORDER side: no exchange position makes it readable.
        for (const exchange of ['0.002', '-0.002', '0']) {
          if (exchange !== position) await s.exchangeAt(symbol, exchange);
          expect(await cycle(s, symbol), `${label} / exchange ${exchange}`).toEqual({
            status: 'MANUAL_REQUIRED',
            reason: 'ledger_invalid',
          });
          expect(await s.t.redis.exists(s.t.keys.hold(symbol))).toBe(1);
          const permit = await closePermit(s, symbol);
          expect(failedReasons(permit), exchange).toContain('ledger_invalid');
          expect(verdict(permit), exchange).toBe(
            exchange === '0' ? 'no_position' : 'ledger_invalid',
          );
        }
        expect(await s.t.redis.hgetall(ledgerKey), 'never rewritten').toEqual(fields);
        expect(await eventsOf(s, symbol, 'LEDGER_INIT')).toEqual([]);
        await brainGauge(s, 'p33_ledger_amt', symbol, (v) => v === undefined);
        return;
      }

      // A described position: the exchange at that position agrees — nothing written, no hold.
      const want = new Decimal(position);
      expect(await cycle(s, symbol), label).toEqual({ status: 'OK', reason: '' });
      expect(await s.t.redis.exists(s.t.keys.hold(symbol)), label).toBe(0);
      expect(await s.t.redis.hgetall(ledgerKey), label).toEqual(fields);
      expect(await eventsOf(s, symbol), label).toEqual([]);
      const gauge = await brainGauge(s, 'p33_ledger_amt', symbol, (v) => v !== undefined);
      expect(amountsEqual(new Decimal(gauge ?? NaN), want, EPS), `gauge ${gauge}`).toBe(true);
      const permit = await closePermit(s, symbol);
      expect(verdict(permit), label).toBe(
        want.isZero() ? 'no_position' : `ALLOW ${formatAmount(want.abs())}`,
      );

      // The opposite exchange position is a side mismatch (a flat ledger: a quantity
      // mismatch) — held, never repaired.
      const other = want.isZero() ? '0.002' : formatAmount(want.neg());
      await s.exchangeAt(symbol, other);
      const held = want.isZero()
        ? { status: 'HOLD', reason: 'qty_mismatch_no_evidence' }
        : { status: 'MANUAL_REQUIRED', reason: 'side_mismatch' };
      expect(await cycle(s, symbol), `${label} / exchange ${other}`).toEqual(held);
      expect(await s.t.redis.hgetall(ledgerKey), label).toEqual(fields);
      expect(verdict(await closePermit(s, symbol)), label).toBe(
        want.isZero() ? 'reconcile_required_qty_mismatch' : 'reconcile_required_side_mismatch',
      );
    },
  );
});

describe('snapshot hashes of the earlier system, through the real engine and brain', () => {
  it.each(SHAPES.snapshot.map((r, i) => [i, r.shape, r] as const))(
    'snapshot %i (%s)',
    async (i, _shape, record) => {
      const symbol = symbolOf(record);
      const amount = SNAPSHOT_MEANINGS[i] ?? null;
      const label = `${i}: ${record.meaning}`;
      // The venue leaves the symbol out of positionRisk: the brain never writes its snapshot.
      const s = await PeerStack.start({}, { initLedgers: false, unpolled: [symbol] });
      stack = s;
      const fields = record.fields ?? {};
      const nowSec = Math.floor(Date.now() / 1000);
      await writeHash(s, record, { ...fields, ts_epoch: String(nowSec) }); // taken now

      if (amount === null) {
        // Written under another key: P:position:snapshot:SYM stays missing.
        expect(await s.t.redis.exists(s.t.keys.snapshot(symbol)), label).toBe(0);
        expect(await cycle(s, symbol), label).toEqual({
          status: 'HOLD',
          reason: 'missing_exchange',
        });
        expect(verdict(await closePermit(s, symbol)), label).toBe('no_exchange_snapshot');
        const age = await brainGauge(s, 'p33_snapshot_age_sec', symbol, (v) => v !== undefined);
        expect(age, label).toBe(Infinity);
        return;
      }

      // Fresh: the engine initialises the ledger from exactly that amount (its sign the side).
      expect(await cycle(s, symbol), label).toEqual({ status: 'OK', reason: 'ledger_init' });
      expect(await s.ledgerAmt(symbol), label).toEqual(new Decimal(amount));
      const age = await brainGauge(s, 'p33_snapshot_age_sec', symbol, (v) => v !== undefined);
      expect(age, label).toBeGreaterThanOrEqual(0);
      expect(age, label).toBeLessThan(10);
      const permit = await closePermit(s, symbol);
      if (new Decimal(amount).isZero()) expect(verdict(permit), label).toBe('no_position');
      else {
        expect(verdict(permit), label).toBe(`ALLOW ${formatAmount(new Decimal(amount).abs())}`);
        expect(String(permit.exchange_position_amt), label).toBe(amount);
      }

      // As the fixture holds it (its own ts_epoch, months ago; record 4 is never refreshed):
      // stale for the engine and the brain, whatever its TTL.
      await writeHash(s, record);
      expect(await cycle(s, symbol), label).toEqual({ status: 'HOLD', reason: 'stale_exchange' });
      const expectedAge = Date.now() / 1000 - Number(fields.ts_epoch);
      const staleAge = await brainGauge(s, 'p33_snapshot_age_sec', symbol, (v) => (v ?? 0) > 10);
      expect(Math.abs((staleAge ?? 0) - expectedAge), label).toBeLessThan(5);
      expect(verdict(await closePermit(s, symbol)), label).toBe('stale_exchange_state');
    },
  );
});

describe('holds of the earlier system, through the real engine and brain', () => {
  it.each(SHAPES.reconcile_hold.map((r, i) => [i, r.shape, r] as const))(
    'hold %i (%s): honoured, never shortened or deleted by the engine',
    async (i, _shape, record) => {
      const symbol = symbolOf(record);
      const label = `${i}: ${record.meaning}`;
      const s = await PeerStack.start({ [symbol]: '0.2' });
      stack = s;
      const { redis } = s.t;
      const holdKey = keyUnder(s.t.prefix, record.key);
      expect(holdKey).toBe(s.t.keys.hold(symbol));
      const value = record.value ?? '';
      const ttl = record.ttl_sec ?? 60;
      await redis.set(holdKey, value, 'EX', ttl);
      const companions = Object.entries(record.companions ?? {}).map(([key, value]) => ({
        key: keyUnder(s.t.prefix, key),
        value,
      }));
      for (const c of companions) await redis.set(c.key, c.value, 'EX', ttl);
      const expireAt = async (key: string): Promise<number> =>
        Number(await redis.call('PEXPIRETIME', key));
      const written = await expireAt(holdKey);
      const companionExpiry = await Promise.all(companions.map((c) => expireAt(c.key)));

      // Exchange and ledger agree: the engine has nothing to hold for, and leaves the hold.
      for (let n = 0; n < 3; n += 1)
        expect(await cycle(s, symbol), label).toEqual({ status: 'OK', reason: '' });
      expect(await redis.get(holdKey), label).toBe(value);
      expect(await expireAt(holdKey), 'expiry untouched').toBe(written);
      expect(await redis.hget(s.t.keys.reconcileState(symbol), 'hold_by')).toBe('foreign');
      expect(verdict(await closePermit(s, symbol)), label).toBe('reconcile_hold_active');

      // A drift comes and goes: the engine shares the hold while it needs one (never shorter),
      // then leaves it to its writer — no HOLD_CLEARED, the hold lives on.
      s.venue.control.externalTrade(symbol, '0.1');
      await s.snapshotShows(symbol, new Decimal('0.3'), 0);
      expect(await cycle(s, symbol)).toEqual({
        status: 'HOLD',
        reason: 'qty_mismatch_no_evidence',
      });
      expect(await expireAt(holdKey)).toBeGreaterThanOrEqual(written);
      await s.exchangeAt(symbol, '0.2');
      expect(await cycle(s, symbol)).toEqual({ status: 'OK', reason: '' });
      expect(await redis.get(holdKey), label).toBe(value);
      expect(await expireAt(holdKey)).toBeGreaterThanOrEqual(written);
      expect(await eventsOf(s, symbol, 'HOLD_CLEARED'), label).toEqual([]);
      expect(verdict(await closePermit(s, symbol)), label).toBe('reconcile_hold_active');
      for (const [k, c] of companions.entries()) {
        expect(await redis.get(c.key), c.key).toBe(c.value);
        expect(await expireAt(c.key), c.key).toBe(companionExpiry[k]);
      }

      // Once its writer clears it, the engine's own hold for the next drift is the engine's
      // to delete.
      await redis.del(holdKey);
      s.venue.control.externalTrade(symbol, '0.1');
      await s.snapshotShows(symbol, new Decimal('0.3'), 0);
      expect(await cycle(s, symbol)).toEqual({
        status: 'HOLD',
        reason: 'qty_mismatch_no_evidence',
      });
      expect(await redis.hget(s.t.keys.reconcileState(symbol), 'hold_by')).toBe('p34');
      await s.exchangeAt(symbol, '0.2');
      expect(await cycle(s, symbol)).toEqual({ status: 'OK', reason: '' });
      expect(await redis.exists(holdKey)).toBe(0);
      expect(await eventsOf(s, symbol, 'HOLD_CLEARED')).toHaveLength(1);
    },
  );
});
