/**
 * `brain_write_snapshots.lua` (SPEC §3: a snapshot never goes back in time), tested three
 * ways (STYLE.md): arguments and replies without Redis, every outcome against real Redis,
 * and after SCRIPT FLUSH (the NOSCRIPT path).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import {
  SNAPSHOT_WRITE_BATCH,
  SNAPSHOT_WRITE_FIELDS,
  type SnapshotWrite,
  decodeSnapshotWriteReply,
  encodeSnapshotWrites,
  writeSnapshots,
  writeSnapshotsScript,
} from '../../src/brain/snapshot-write-script.js';
import { waitFor } from './helpers.js';

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

describe('brain_write_snapshots arguments and replies (no Redis)', () => {
  it('every key in KEYS, one row per key in field order, false = keep the stored field', () => {
    const { keys, args } = encodeSnapshotWrites(
      [
        { symbol: 'BTCUSDT', key: 'q:position:snapshot:BTCUSDT', fields: fields('1', 5, 4) },
        {
          symbol: 'ETHUSDT',
          key: 'q:position:snapshot:ETHUSDT',
          fields: { position_amt: '-2', ts_ms: '6', exchange_update_ms: '' },
        },
      ],
      { ttlMs: 3_600_000.4, channel: 'q:posguard:snapshot:changed' },
    );
    expect(keys).toEqual(['q:position:snapshot:BTCUSDT', 'q:position:snapshot:ETHUSDT']);
    const p = JSON.parse(args[0]) as {
      ttl_ms: string;
      fields: string[];
      rows: (string | false)[][];
      symbols: string[];
    };
    expect(p.ttl_ms).toBe('3600000');
    expect(p.fields).toEqual([...SNAPSHOT_WRITE_FIELDS]);
    expect(p.symbols).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(p.rows[0]).toHaveLength(SNAPSHOT_WRITE_FIELDS.length);
    const eth = p.rows[1]!;
    expect(eth[SNAPSHOT_WRITE_FIELDS.indexOf('position_amt')]).toBe('-2');
    expect(eth[SNAPSHOT_WRITE_FIELDS.indexOf('mark_price')]).toBe(false);
  });

  it('decodes every outcome and refuses anything else', () => {
    expect(decodeSnapshotWriteReply([2, 2, 'changed', 3, 'stale'], 3)).toEqual([
      { kind: 'written', changed: false },
      { kind: 'written', changed: true },
      { kind: 'stale' },
    ]);
    expect(decodeSnapshotWriteReply([0, 1, 'wrong_type k string'], 1)).toEqual([
      { kind: 'wrong_type', problem: 'wrong_type k string' },
    ]);
    expect(decodeSnapshotWriteReply([1, 1, 'stale'], 1)).toBeNull(); // count disagrees
    expect(decodeSnapshotWriteReply([1, 5, 'changed'], 1)).toBeNull(); // index out of range
    expect(decodeSnapshotWriteReply([1, 1, 'exploded'], 1)).toBeNull();
    expect(decodeSnapshotWriteReply('OK', 1)).toBeNull();
  });
});

describe('brain_write_snapshots against Redis', () => {
  let t: TestRedis;
  const settings = (channel = '') => ({ ttlMs: 60_000, channel });
  const write = (symbol: string, f: Record<string, string>): SnapshotWrite => ({
    symbol,
    key: t.keys.snapshot(symbol),
    fields: f,
  });

  beforeEach(() => {
    t = openTestRedis('sws');
  });
  afterEach(async () => {
    await t.close();
  });

  it('writes new snapshots (changed), then an equal amount (written), with the TTL', async () => {
    expect(
      await writeSnapshots(t.redis, [write('BTCUSDT', fields('1', 1000, 900))], settings()),
    ).toEqual([{ kind: 'written', changed: true }]);
    expect(
      await writeSnapshots(t.redis, [write('BTCUSDT', fields('1', 2000, 900))], settings()),
    ).toEqual([{ kind: 'written', changed: false }]);
    expect(await t.redis.hget(t.keys.snapshot('BTCUSDT'), 'ts_ms')).toBe('2000');
    const ttl = await t.redis.pttl(t.keys.snapshot('BTCUSDT'));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('refuses an older exchange_update_ms even when taken later (a stale REST answer after a push)', async () => {
    await writeSnapshots(
      t.redis,
      [write('BTCUSDT', fields('-5', 2000, 1500, { source: 'ws' }))],
      settings(),
    );
    expect(
      await writeSnapshots(t.redis, [write('BTCUSDT', fields('3', 2100, 1000))], settings()),
    ).toEqual([{ kind: 'stale' }]);
    expect(await t.redis.hgetall(t.keys.snapshot('BTCUSDT'))).toMatchObject({
      position_amt: '-5',
      source: 'ws',
      ts_ms: '2000',
    });
    // A newer exchange time wins even when its request was sent earlier.
    expect(
      await writeSnapshots(t.redis, [write('BTCUSDT', fields('7', 1900, 1600))], settings()),
    ).toEqual([{ kind: 'written', changed: true }]);
  });

  it('same exchange time: the snapshot taken earlier is refused; without exchange times, ts_ms decides', async () => {
    await writeSnapshots(t.redis, [write('BTCUSDT', fields('1', 2000, 1500))], settings());
    expect(
      await writeSnapshots(t.redis, [write('BTCUSDT', fields('1', 1999, 1500))], settings()),
    ).toEqual([{ kind: 'stale' }]);
    await writeSnapshots(t.redis, [write('ETHUSDT', fields('0', 2000, null))], settings());
    expect(
      await writeSnapshots(t.redis, [write('ETHUSDT', fields('2', 1999, 1700))], settings()),
    ).toEqual([{ kind: 'stale' }]);
    expect(
      await writeSnapshots(t.redis, [write('ETHUSDT', fields('2', 2001, null))], settings()),
    ).toEqual([{ kind: 'written', changed: true }]);
  });

  it("an older writer's snapshot (float ts_epoch, no ts_ms) is compared in ms; no usable time never blocks", async () => {
    await t.redis.hset(t.keys.snapshot('BTCUSDT'), {
      position_amt: '0.5',
      ts_epoch: '1700000000.25',
    });
    expect(
      await writeSnapshots(
        t.redis,
        [write('BTCUSDT', fields('0.4', 1_699_999_999_000, null))],
        settings(),
      ),
    ).toEqual([{ kind: 'stale' }]);
    await t.redis.hset(t.keys.snapshot('ETHUSDT'), { position_amt: '0.5', ts_ms: 'garbage' });
    expect(
      await writeSnapshots(t.redis, [write('ETHUSDT', fields('0.5', 5, null))], settings()),
    ).toEqual([{ kind: 'written', changed: false }]);
  });

  it('keeps fields a row leaves out (false), e.g. the REST mark price under a user-stream row', async () => {
    await writeSnapshots(t.redis, [write('BTCUSDT', fields('1', 1000, 900))], settings());
    const ws = fields('2', 1100, 1000, { source: 'ws' });
    delete ws.mark_price;
    delete ws.leverage;
    await writeSnapshots(t.redis, [write('BTCUSDT', ws)], settings());
    expect(await t.redis.hgetall(t.keys.snapshot('BTCUSDT'))).toMatchObject({
      position_amt: '2',
      mark_price: '101',
      leverage: '20',
      source: 'ws',
    });
  });

  it('a wrong-typed key is refused and named, nothing written for it; the others are written', async () => {
    await t.redis.set(t.keys.snapshot('ETHUSDT'), 'not a hash');
    const outcomes = await writeSnapshots(
      t.redis,
      [write('BTCUSDT', fields('1', 1000, 900)), write('ETHUSDT', fields('2', 1000, 900))],
      settings(),
    );
    expect(outcomes).toEqual([
      { kind: 'written', changed: true },
      { kind: 'wrong_type', problem: `wrong_type ${t.keys.snapshot('ETHUSDT')} string` },
    ]);
    expect(await t.redis.get(t.keys.snapshot('ETHUSDT'))).toBe('not a hash');
    expect(await t.redis.hget(t.keys.snapshot('BTCUSDT'), 'position_amt')).toBe('1');
  });

  it('publishes the symbols whose amount changed, one message per call, nothing when steady', async () => {
    const channel = `${t.prefix}:changed`;
    const sub = t.redis.duplicate();
    const messages: string[] = [];
    sub.on('message', (_c: string, m: string) => messages.push(m));
    await sub.subscribe(channel);
    try {
      await writeSnapshots(
        t.redis,
        [write('BTCUSDT', fields('1', 1000, 900)), write('ETHUSDT', fields('0', 1000, null))],
        settings(channel),
      );
      await writeSnapshots(
        t.redis,
        [write('BTCUSDT', fields('1', 2000, 900)), write('ETHUSDT', fields('-1', 2000, 1900))],
        settings(channel),
      );
      await writeSnapshots(
        t.redis,
        [write('ETHUSDT', fields('-1', 3000, 1900))],
        settings(channel),
      );
      // The second call's message proves the first was delivered before it.
      await waitFor(() => Promise.resolve(messages.length >= 2 ? true : null));
      await writeSnapshots(t.redis, [write('SOLUSDT', fields('3', 1, 1))], settings(channel));
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
    const outcomes = await writeSnapshots(t.redis, writes, settings());
    expect(outcomes).toHaveLength(n);
    expect(outcomes[700]).toMatchObject({ kind: 'wrong_type' });
    expect(outcomes.filter((o) => o.kind === 'written')).toHaveLength(n - 1);
    expect(await t.redis.hget(t.keys.snapshot(`S${n - 1}USDT`), 'position_amt')).toBe(
      String(n - 1),
    );
  });

  it('rows that do not match the keys are an error, nothing written', async () => {
    const { keys, args } = encodeSnapshotWrites([write('BTCUSDT', fields('1', 1, 1))], settings());
    await expect(
      writeSnapshotsScript.run(t.redis, [...keys, t.keys.snapshot('ETHUSDT')], args),
    ).rejects.toThrow(/one row and one symbol per key/);
    expect(await t.redis.exists(t.keys.snapshot('BTCUSDT'), t.keys.snapshot('ETHUSDT'))).toBe(0);
  });

  it('still works after SCRIPT FLUSH (NOSCRIPT path)', async () => {
    await t.redis.script('FLUSH');
    expect(
      await writeSnapshots(
        t.redis,
        [write('BTCUSDT', fields('1', 1000, 900)), write('ETHUSDT', fields('2', 1000, 900))],
        settings(),
      ),
    ).toEqual([
      { kind: 'written', changed: true },
      { kind: 'written', changed: true },
    ]);
  });
});
