/**
 * brain_write_snapshots against a real Redis (SPEC §3: a snapshot never goes back in time):
 * every outcome, publishing, batching, the caller-bug error, the fence (SPEC §11: nothing
 * written or published below it, without it, with a garbage or wrong-typed one), and the
 * NOSCRIPT path (SCRIPT FLUSH) for the batched pipeline. (Moved from test/brain/snapshot-write-script.test.ts.)
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SNAPSHOT_WRITE_BATCH,
  type SnapshotWrite,
  type SnapshotWriteArgs,
  brainWriteSnapshots,
  writeSnapshots,
} from '../../src/redis/scripts/brain-write-snapshots.js';
import { runScript } from '../../src/redis/scripts/script.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { testTerm } from '../helpers/terms.js';
import { waitFor } from '../brain/helpers.js';
import { expectFencedEverywhere } from './fence-cases.js';

function fields(
  amount: string,
  tsMs: number,
  exchangeUpdateMs: number | null,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    position_amt: amount,
    side: amount.startsWith('-') ? 'SHORT' : amount === '0' ? 'FLAT' : 'LONG',
    entry_price: '100',
    mark_price: '101',
    leverage: '20',
    unrealized_pnl: '0',
    ts_epoch: String(Math.floor(tsMs / 1000)),
    ts_ms: String(tsMs),
    ts_iso: new Date(tsMs).toISOString(),
    exchange_update_ms: exchangeUpdateMs === null ? '' : String(exchangeUpdateMs),
    source: 'rest',
    ...extra,
  };
}

describe('brain_write_snapshots (real Redis)', () => {
  let t: TestRedis;
  const settings = (publishChanged = false) => ({ ttlMs: 60_000, publishChanged });
  const write = (symbol: string, f: Record<string, string>): SnapshotWrite => ({
    symbol,
    fields: f,
  });
  let epoch: number;
  const run = async (writes: SnapshotWrite[], publishChanged = false) => {
    const outcomes = await writeSnapshots(t.redis, t.keys, epoch, writes, settings(publishChanged));
    if (!Array.isArray(outcomes)) throw new Error(`refused: ${JSON.stringify(outcomes)}`);
    return outcomes;
  };

  beforeEach(async () => {
    t = openTestRedis('sws');
    epoch = (await testTerm(t.redis, t.keys, 'brain-poller')).acquiredEpoch;
  });
  afterEach(async () => {
    await t.close();
  });

  it('writes new snapshots (changed), then an equal amount (written), with the TTL', async () => {
    expect(await run([write('BTCUSDT', fields('1', 1000, 900))])).toEqual([
      { kind: 'written', changed: true },
    ]);
    expect(await run([write('BTCUSDT', fields('1', 2000, 900))])).toEqual([
      { kind: 'written', changed: false },
    ]);
    expect(await t.redis.hget(t.keys.snapshot('BTCUSDT'), 'ts_ms')).toBe('2000');
    const ttl = await t.redis.pttl(t.keys.snapshot('BTCUSDT'));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('refuses an older exchange_update_ms even when taken later (a stale REST answer after a push)', async () => {
    await run([write('BTCUSDT', fields('-5', 2000, 1500, { source: 'ws' }))]);
    expect(await run([write('BTCUSDT', fields('3', 2100, 1000))])).toEqual([{ kind: 'stale' }]);
    expect(await t.redis.hgetall(t.keys.snapshot('BTCUSDT'))).toMatchObject({
      position_amt: '-5',
      source: 'ws',
      ts_ms: '2000',
    });
    // A newer exchange time wins even when its request was sent earlier.
    expect(await run([write('BTCUSDT', fields('7', 1900, 1600))])).toEqual([
      { kind: 'written', changed: true },
    ]);
  });

  it('same exchange time: the snapshot taken earlier is refused; without exchange times, ts_ms decides', async () => {
    await run([write('BTCUSDT', fields('1', 2000, 1500))]);
    expect(await run([write('BTCUSDT', fields('1', 1999, 1500))])).toEqual([{ kind: 'stale' }]);
    await run([write('ETHUSDT', fields('0', 2000, null))]);
    expect(await run([write('ETHUSDT', fields('2', 1999, 1700))])).toEqual([{ kind: 'stale' }]);
    expect(await run([write('ETHUSDT', fields('2', 2001, null))])).toEqual([
      { kind: 'written', changed: true },
    ]);
  });

  it("an older writer's snapshot (float ts_epoch, no ts_ms) is compared in ms; no usable time never blocks", async () => {
    await t.redis.hset(t.keys.snapshot('BTCUSDT'), {
      position_amt: '0.5',
      ts_epoch: '1700000000.25',
    });
    expect(await run([write('BTCUSDT', fields('0.4', 1_699_999_999_000, null))])).toEqual([
      { kind: 'stale' },
    ]);
    await t.redis.hset(t.keys.snapshot('ETHUSDT'), { position_amt: '0.5', ts_ms: 'garbage' });
    expect(await run([write('ETHUSDT', fields('0.5', 5, null))])).toEqual([
      { kind: 'written', changed: false },
    ]);
  });

  it('keeps fields a row leaves out (false), e.g. the REST mark price under a user-stream row', async () => {
    await run([write('BTCUSDT', fields('1', 1000, 900))]);
    const ws = fields('2', 1100, 1000, { source: 'ws' });
    delete ws.mark_price;
    delete ws.leverage;
    await run([write('BTCUSDT', ws)]);
    expect(await t.redis.hgetall(t.keys.snapshot('BTCUSDT'))).toMatchObject({
      position_amt: '2',
      mark_price: '101',
      leverage: '20',
      source: 'ws',
    });
  });

  it('a wrong-typed key is refused and named, nothing written for it; the others are written', async () => {
    await t.redis.set(t.keys.snapshot('ETHUSDT'), 'not a hash');
    const outcomes = await run([
      write('BTCUSDT', fields('1', 1000, 900)),
      write('ETHUSDT', fields('2', 1000, 900)),
    ]);
    expect(outcomes).toEqual([
      { kind: 'written', changed: true },
      { kind: 'wrong_type', key: t.keys.snapshot('ETHUSDT'), found: 'string' },
    ]);
    expect(await t.redis.get(t.keys.snapshot('ETHUSDT'))).toBe('not a hash');
    expect(await t.redis.hget(t.keys.snapshot('BTCUSDT'), 'position_amt')).toBe('1');
  });

  it('publishes the symbols whose amount changed, one message per call, nothing when steady', async () => {
    const sub = t.redis.duplicate();
    const messages: string[] = [];
    sub.on('message', (_c: string, m: string) => messages.push(m));
    await sub.subscribe(t.keys.snapshotChangedChannel);
    try {
      await run(
        [write('BTCUSDT', fields('1', 1000, 900)), write('ETHUSDT', fields('0', 1000, null))],
        true,
      );
      await run(
        [write('BTCUSDT', fields('1', 2000, 900)), write('ETHUSDT', fields('-1', 2000, 1900))],
        true,
      );
      await run([write('ETHUSDT', fields('-1', 3000, 1900))], true);
      // Asked not to publish: nothing, although the amount changed.
      await run([write('ETHUSDT', fields('-2', 3100, 2000))], false);
      // The second call's message proves the first was delivered before it.
      await waitFor(() => Promise.resolve(messages.length >= 2 ? true : null));
      await run([write('SOLUSDT', fields('3', 1, 1))], true);
      await waitFor(() => Promise.resolve(messages.length >= 3 ? true : null));
      expect(messages).toEqual(['BTCUSDT,ETHUSDT', 'ETHUSDT', 'SOLUSDT']);
    } finally {
      sub.disconnect();
    }
  });

  it('writes more keys than one call takes, in batches, every outcome in order', async () => {
    const n = SNAPSHOT_WRITE_BATCH * 2 + 7;
    const writes = Array.from({ length: n }, (_, i) =>
      write(`S${i}USDT`, fields(String(i), 1000, 900)),
    );
    await t.redis.set(t.keys.snapshot('S700USDT'), 'x');
    const outcomes = await run(writes);
    expect(outcomes).toHaveLength(n);
    expect(outcomes[700]).toMatchObject({ kind: 'wrong_type' });
    expect(outcomes.filter((o) => o.kind === 'written')).toHaveLength(n - 1);
    expect(await t.redis.hget(t.keys.snapshot(`S${n - 1}USDT`), 'position_amt')).toBe(
      String(n - 1),
    );
  });

  it('fenced: a batch (new, newer, stale and wrong-typed keys) writes nothing below the fence, without a fence, with a garbage or wrong-typed one', async () => {
    await run([
      write('BTCUSDT', fields('1', 1000, 900)),
      write('ETHUSDT', fields('2', 5000, 4900)),
    ]);
    await t.redis.set(t.keys.snapshot('XRPUSDT'), 'not a hash');
    const writes = [
      write('BTCUSDT', fields('3', 2000, 1900)), // newer: would be written
      write('ETHUSDT', fields('9', 1000, 900)), // older: stale
      write('SOLUSDT', fields('4', 2000, 1900)), // new
      write('XRPUSDT', fields('5', 2000, 1900)), // wrong type
    ];
    await expectFencedEverywhere(t, 'brain-poller', (e) =>
      runScript(t.redis, brainWriteSnapshots, {
        keys: t.keys,
        epoch: e,
        writes,
        ...settings(true),
      }),
    );
    expect(await t.redis.hget(t.keys.snapshot('SOLUSDT'), 'position_amt')).toBe('4');
  });

  it('fenced: the batched call answers `fenced`, writes and publishes nothing — every batch checks the fence', async () => {
    const sub = t.redis.duplicate();
    const messages: string[] = [];
    sub.on('message', (_c: string, m: string) => messages.push(m));
    await sub.subscribe(t.keys.snapshotChangedChannel);
    try {
      const paused = epoch;
      await t.redis.del(t.keys.lease('brain-poller'));
      const current = (await testTerm(t.redis, t.keys, 'brain-poller', 'new')).acquiredEpoch;
      const writes = Array.from({ length: SNAPSHOT_WRITE_BATCH + 3 }, (_, i) =>
        write(`S${i}USDT`, fields('1', 1000, 900)),
      );
      const refused = await writeSnapshots(t.redis, t.keys, paused, writes, settings(true));
      expect(refused).toEqual({ status: 'fenced', fence: current, epoch: paused });
      expect(await t.redis.keys(`${t.prefix}:position:*`)).toEqual([]);
      // The next publish is the first message: the refused batches published nothing.
      epoch = current;
      await run([write('SOLUSDT', fields('1', 1000, 900))], true);
      await waitFor(() => Promise.resolve(messages.length >= 1 ? true : null));
      expect(messages).toEqual(['SOLUSDT']);
    } finally {
      sub.disconnect();
    }
  });

  it('a fence key of the wrong type: the batched call throws REDIS_WRONGTYPE naming it, nothing written', async () => {
    await t.redis.del(t.keys.fence('brain-poller'));
    await t.redis.hset(t.keys.fence('brain-poller'), 'epoch', String(epoch));
    await expect(run([write('BTCUSDT', fields('1', 1000, 900))])).rejects.toMatchObject({
      code: 'REDIS_WRONGTYPE',
      message: expect.stringContaining(t.keys.fence('brain-poller')) as unknown,
    });
    expect(await t.redis.exists(t.keys.snapshot('BTCUSDT'))).toBe(0);
  });

  it('rows that do not match the keys are an error reply (a caller bug), nothing written', async () => {
    // A spec whose encode adds a key the rows do not cover: the script refuses the call.
    const extraKey = {
      ...brainWriteSnapshots,
      encode: (a: SnapshotWriteArgs) => {
        const call = brainWriteSnapshots.encode(a);
        return { ...call, keys: [...call.keys, t.keys.snapshot('ETHUSDT')] };
      },
    };
    const error = await runScript(t.redis, extraKey, {
      keys: t.keys,
      epoch,
      writes: [write('BTCUSDT', fields('1', 1, 1))],
      ...settings(),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'REDIS_REPLY', kind: null });
    expect((error as Error).message).toMatch(/one row and one symbol per snapshot key/);
    expect(await t.redis.exists(t.keys.snapshot('BTCUSDT'), t.keys.snapshot('ETHUSDT'))).toBe(0);
  });

  it('after SCRIPT FLUSH: a single call and the batched pipeline both still run (NOSCRIPT re-sent)', async () => {
    await run([write('BTCUSDT', fields('1', 1000, 900))]); // this connection now sends EVALSHA
    await t.redis.script('FLUSH');
    expect(
      await runScript(t.redis, brainWriteSnapshots, {
        keys: t.keys,
        epoch,
        writes: [write('SOLUSDT', fields('1', 1000, 900))],
        ...settings(),
      }),
    ).toEqual([{ kind: 'written', changed: true }]);
    await t.redis.script('FLUSH');
    const writes = Array.from({ length: SNAPSHOT_WRITE_BATCH + 1 }, (_, i) =>
      write(`S${i}USDT`, fields('2', 1000, 900)),
    );
    const outcomes = await run(writes);
    expect(outcomes).toHaveLength(SNAPSHOT_WRITE_BATCH + 1);
    expect(outcomes.every((o) => o.kind === 'written' && o.changed)).toBe(true);
  });
});
