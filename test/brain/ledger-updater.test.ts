import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { LedgerUpdater, RESULT_GROUP } from '../../src/brain/ledger-updater.js';
import { createBrainMetrics, type BrainMetrics } from '../../src/brain/metrics.js';
import { ensureGroup } from '../../src/brain/stream-group.js';
import { silentLogger } from '../../src/observability/logger.js';
import { Decimal, epsilonFor } from '../../src/domain/amount.js';
import { decodeLedger } from '../../src/domain/ledger.js';
import { SYSTEM_CLOCK, pendingCount, waitFor, writeLedger } from './helpers.js';
import { assertProperty } from '../helpers/property.js';

let t: TestRedis;
let reader: Redis;
let metrics: BrainMetrics;
let fills: string[];
const running: LedgerUpdater[] = [];

function updater(consumer = 'brain-a'): LedgerUpdater {
  return new LedgerUpdater({
    reader,
    redis: t.redis,
    keys: t.keys,
    consumer,
    allowlist: ['BTCUSDT', 'ETHUSDT'],
    ledgerTtlSec: 86400,
    markerTtlSec: 3600,
    clock: SYSTEM_CLOCK,
    metrics,
    logger: silentLogger(),
    onFill: (symbol) => fills.push(symbol),
    blockMs: 100,
  });
}

function start(u: LedgerUpdater): LedgerUpdater {
  running.push(u);
  u.start();
  return u;
}

async function addResult(fields: Record<string, string>, id = '*'): Promise<string> {
  return (await t.redis.xadd(
    t.keys.applyResultStream,
    id,
    ...Object.entries(fields).flat(),
  )) as string;
}

async function ledgerOf(symbol: string) {
  const read = decodeLedger(await t.redis.hgetall(t.keys.ledger(symbol)), epsilonFor(null));
  return read;
}

async function amountOf(symbol: string): Promise<string | null> {
  const read = await ledgerOf(symbol);
  return read.kind === 'ok' ? read.ledger.amount.toFixed() : null;
}

/** Waits until the group has no pending entries and its last delivered id reached `id`. */
async function drained(id: string): Promise<void> {
  await waitFor(async () => {
    const groups = (await t.redis.xinfo('GROUPS', t.keys.applyResultStream)) as unknown[][];
    const info = groups.map((g) => Object.fromEntries(chunk(g)))[0] as
      { 'last-delivered-id'?: string; pending?: number } | undefined;
    return info?.['last-delivered-id'] === id && info.pending === 0 ? true : null;
  });
}

function chunk(flat: unknown[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1]]);
  return out;
}

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  return (
    metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
      ?.value ?? 0
  );
}

beforeEach(async () => {
  t = openTestRedis('lu');
  reader = new Redis(t.url, { maxRetriesPerRequest: 1 });
  metrics = createBrainMetrics();
  fills = [];
  await ensureGroup(t.redis, t.keys.applyResultStream, RESULT_GROUP, '$');
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((u) => u.stop()));
  reader.disconnect();
  await t.close();
});

describe('ledger updater', () => {
  it('applies each result exactly once across redelivery and restart (LESSONS #11)', async () => {
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '0.05');
    const first = start(updater());
    const id = await addResult({
      symbol: 'BTCUSDT',
      executed: 'True',
      side: 'SELL',
      filled_qty: '0.01',
      order_id: '77',
      plan_id: 'p1',
      reduceOnly: 'true',
    });
    await drained(id);
    expect(await amountOf('BTCUSDT')).toBe('0.04');
    await first.stop();
    running.splice(0);
    // Redelivery of the same entry (a crash after the script ran but before the reply).
    const again = updater();
    await again.handleBatch([
      { id, fields: { symbol: 'BTCUSDT', executed: 'True', side: 'SELL', filled_qty: '0.01' } },
    ]);
    expect(await amountOf('BTCUSDT')).toBe('0.04');
    // Restart: a new process with the same consumer name, then more entries.
    start(updater());
    const id2 = await addResult({
      symbol: 'BTCUSDT',
      executed: 'true',
      side: 'SELL',
      filled_qty: '0.015',
    });
    await drained(id2);
    expect(await amountOf('BTCUSDT')).toBe('0.025');
    const read = await ledgerOf('BTCUSDT');
    expect(read.kind === 'ok' && read.ledger).toMatchObject({
      version: 3,
      source: 'apply',
      lastResultId: id2,
    });
    expect(await counter('p33_ledger_update_total', { symbol: 'BTCUSDT' })).toBe(2);
    expect(fills).toEqual(['BTCUSDT', 'BTCUSDT']);
  });

  it('reads every real result shape (LESSONS #2)', async () => {
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '1');
    start(updater());
    const sec = Math.floor(Date.now() / 1000) - 100;
    const shapes: Record<string, string>[] = [
      { symbol: 'BTCUSDT', executed: 'True', side: 'SELL', filled_qty: '0.1', ts: String(sec) },
      {
        symbol: 'BTCUSDT',
        executed: 'true',
        side: 'SELL',
        filled_qty: '0.1',
        timestamp: String(sec * 1000 + 500),
      },
      {
        symbol: 'BTCUSDT',
        executed: '1',
        filled_qty: '0.1',
        steps_results: JSON.stringify([{ side: 'SELL', order_id: 'a' }]),
      },
      {
        symbol: 'BTCUSDT',
        executed: 'yes',
        steps_results: JSON.stringify([
          { side: 'SELL', executed_qty: '0.05', order_id: 'first' },
          { side: 'SELL', executed_qty: '0.05', order_id: 'last' },
        ]),
      },
    ];
    let last = '';
    for (const fields of shapes) last = await addResult(fields);
    await drained(last);
    const read = await ledgerOf('BTCUSDT');
    if (read.kind !== 'ok') throw new Error('ledger not ok');
    expect(read.ledger.amount.toFixed()).toBe('0.6');
    expect(read.ledger.lastOrderId).toBe('last');
    // ts in seconds and ms were older; the stream id times of the later entries are newer.
    expect(read.ledger.lastOrderTimeMs).toBeGreaterThan(sec * 1000 + 500);
    expect(read.ledger.lastResultId).toBe(last);
  });

  it('takes the fill time from ts (s), timestamp (ms) or the stream id for the cooldown', async () => {
    start(updater());
    const sec = Math.floor(Date.now() / 1000) - 5;
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '1');
    await writeLedger(t.redis, t.keys, 'ETHUSDT', '1');
    const a = await addResult({
      symbol: 'BTCUSDT',
      executed: 'true',
      side: 'SELL',
      filled_qty: '0.1',
      ts: String(sec),
    });
    await drained(a);
    const btc = await ledgerOf('BTCUSDT');
    expect(btc.kind === 'ok' && btc.ledger.lastOrderTimeMs).toBe(sec * 1000);
    const streamMs = Date.now() + 1000;
    const b = await addResult(
      { symbol: 'ETHUSDT', executed: 'true', side: 'SELL', filled_qty: '0.1' },
      `${streamMs}-0`,
    );
    await drained(b);
    const eth = await ledgerOf('ETHUSDT');
    expect(eth.kind === 'ok' && eth.ledger.lastOrderTimeMs).toBe(streamMs);
  });

  it('keeps a SHORT ledger negative and never crosses zero on reduce-only fills', async () => {
    await writeLedger(t.redis, t.keys, 'ETHUSDT', '-2');
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '0.01');
    start(updater());
    await addResult({
      symbol: 'ETHUSDT',
      executed: 'true',
      side: 'BUY',
      filled_qty: '0.5',
      reduceOnly: 'true',
    });
    await addResult({
      symbol: 'BTCUSDT',
      executed: 'true',
      side: 'SELL',
      filled_qty: '0.05',
      reduce_only: 'True',
    });
    const last = await addResult({
      symbol: 'ETHUSDT',
      executed: 'true',
      side: 'BUY',
      filled_qty: '0.25',
    });
    await drained(last);
    expect(await amountOf('ETHUSDT')).toBe('-1.25');
    expect((await t.redis.hgetall(t.keys.ledger('ETHUSDT'))).ledger_side).toBe('SHORT');
    expect(await amountOf('BTCUSDT')).toBe('0');
  });

  it('records only the order fields when no ledger amount exists yet', async () => {
    start(updater());
    const id = await addResult({
      symbol: 'BTCUSDT',
      executed: 'true',
      side: 'SELL',
      filled_qty: '0.01',
      order_id: '9',
      plan_id: 'p9',
    });
    await drained(id);
    const hash = await t.redis.hgetall(t.keys.ledger('BTCUSDT'));
    expect(hash.ledger_amt).toBeUndefined();
    expect(hash).toMatchObject({
      last_order_id: '9',
      last_plan_id: 'p9',
      last_result_id: id,
      version: '1',
    });
    expect(Number(hash.last_order_time_ms)).toBeGreaterThan(0);
    expect(await t.redis.pttl(t.keys.ledger('BTCUSDT'))).toBeGreaterThan(0);
  });

  it('acks malformed and not-executed entries, counts the malformed, changes nothing', async () => {
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '1');
    start(updater());
    await addResult({ symbol: 'BTCUSDT', executed: 'maybe', side: 'SELL', filled_qty: '0.1' });
    await addResult({ symbol: 'BTCUSDT', executed: 'true', side: 'SELL', filled_qty: 'lots' });
    await addResult({ symbol: 'BTCUSDT', executed: 'true', steps_results: '{not json' });
    await addResult({ symbol: 'BTCUSDT', executed: 'true', filled_qty: '0.1' });
    await addResult({ symbol: 'BTCUSDT', executed: 'false', side: 'SELL', filled_qty: '0.1' });
    // Executed, nothing filled and no ordered quantity: nothing to conclude, so malformed.
    const last = await addResult({
      symbol: 'BTCUSDT',
      executed: 'true',
      side: 'SELL',
      filled_qty: '0',
    });
    await drained(last);
    expect(await amountOf('BTCUSDT')).toBe('1');
    expect(await counter('p33_bad_input_total', { stream: 'apply.result' })).toBe(5);
    expect(await pendingCount(t.redis, t.keys.applyResultStream, RESULT_GROUP)).toBe(0);
    expect(fills).toEqual([]);
  });

  it('an order whose fill is not confirmed records the last-order fields only; the amount never moves', async () => {
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '1', { previousVersion: 2 });
    start(updater());
    const tsSec = Math.floor(Date.now() / 1000);
    const steps = [{ order_id: '77', side: 'SELL', quantity: '0.002', executed_qty: '0.000' }];
    const id = await addResult({
      plan_id: 'ack-1',
      symbol: 'BTCUSDT',
      executed: 'True',
      steps_results: JSON.stringify(steps),
      timestamp: String(tsSec),
    });
    await drained(id);
    const ledger = await t.redis.hgetall(t.keys.ledger('BTCUSDT'));
    expect(ledger).toMatchObject({
      ledger_amt: '1',
      version: '4',
      last_order_id: '77',
      last_plan_id: 'ack-1',
      last_order_time_ms: String(tsSec * 1000),
    });
    expect(ledger.last_result_id).toBeUndefined();
    expect(await t.redis.exists(t.keys.resultApplied(id))).toBe(0);
    expect(await counter('p33_ledger_update_total', { symbol: 'BTCUSDT' })).toBe(0);
  });

  it('snaps float noise to the lot step; counts an off-step quantity and applies it exactly', async () => {
    await writeLedger(t.redis, t.keys, 'ETHUSDT', '0.038');
    await t.redis.hset(t.keys.symbolLotSize('ETHUSDT'), { step_size: '0.001', min_qty: '0.001' });
    start(updater());
    const noise = { symbol: 'ETHUSDT', executed: 'True', side: 'SELL', reduceOnly: 'True' };
    await addResult({ ...noise, filled_qty: '0.009999999999999998' });
    await drained(await addResult({ ...noise, filled_qty: '0.0085' }));
    expect(await amountOf('ETHUSDT')).toBe('0.0195');
    expect(await counter('p33_off_step_qty_total', { symbol: 'ETHUSDT' })).toBe(1);
  });

  it('applies a fill on top of the ledger as it is when the fill is handled, not as it was delivered', async () => {
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '1', { previousVersion: 4 });
    const u = updater();
    const fields = { symbol: 'BTCUSDT', executed: 'true', side: 'SELL', filled_qty: '0.1' };
    const id = await addResult(fields);
    // The engine repaired the ledger to 2 (version 6) after the fill was written.
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '2', { previousVersion: 5 });
    await u.handleBatch([{ id, fields }]);
    expect(await amountOf('BTCUSDT')).toBe('1.9');
    expect((await t.redis.hgetall(t.keys.ledger('BTCUSDT'))).version).toBe('7');
  });

  it('property: any fill sequence is applied once each; reduce-only fills never cross zero', async () => {
    let run = 0; // a fresh consumer name per run
    await assertProperty(
      fc.asyncProperty(
        fc.integer({ min: -50, max: 50 }),
        fc.array(
          fc.tuple(fc.constantFrom('BUY', 'SELL'), fc.integer({ min: 1, max: 30 }), fc.boolean()),
          { minLength: 1, maxLength: 8 },
        ),
        async (start, steps) => {
          const symbol = 'ETHUSDT';
          await t.redis.del(t.keys.ledger(symbol));
          await writeLedger(t.redis, t.keys, symbol, String(start));
          const u = updater(`prop-${(run += 1)}`);
          let expected = new Decimal(start);
          const entries = [];
          for (const [side, qty, reduceOnly] of steps) {
            const fields = {
              symbol,
              executed: 'true',
              side,
              filled_qty: String(qty),
              reduceOnly: String(reduceOnly),
            };
            const id = await addResult(fields);
            entries.push({ id, fields });
            const signed = side === 'BUY' ? new Decimal(qty) : new Decimal(-qty);
            const next = expected.plus(signed);
            if (!reduceOnly) expected = next;
            else if (
              expected.isZero() ||
              next.isZero() ||
              next.isNegative() !== expected.isNegative()
            )
              expected = new Decimal(0);
            else if (next.abs().lte(expected.abs())) expected = next;
          }
          await u.handleBatch(entries);
          await u.handleBatch(entries); // redelivered: no change
          expect(await amountOf(symbol)).toBe(expected.toFixed());
        },
      ),
      { numRuns: 40 },
    );
  });

  it('keeps running through entries deleted while pending', async () => {
    await writeLedger(t.redis, t.keys, 'BTCUSDT', '1');
    const u = updater();
    await u.handleBatch([{ id: '1-1', fields: null }]);
    expect(await counter('p33_bad_input_total', { stream: 'apply.result' })).toBe(1);
  });
});
