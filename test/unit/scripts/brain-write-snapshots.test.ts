/** brain_write_snapshots: encode and decode, no Redis (node-redis' pure half of a command spec). */
import { describe, expect, it } from 'vitest';
import { buildKeys } from '../../../src/redis/keys.js';
import {
  SNAPSHOT_WRITE_FIELDS,
  brainWriteSnapshots,
} from '../../../src/redis/scripts/brain-write-snapshots.js';
import { commandArgs, decodeReply } from '../../../src/redis/scripts/script.js';

const keys = buildKeys('q');

describe('brain_write_snapshots encode', () => {
  it('every snapshot key in KEYS, the fence last; the epoch, and one row per key in field order, false = keep the stored field', () => {
    const call = brainWriteSnapshots.encode({
      keys,
      epoch: 1_767_225_600_001,
      writes: [
        { symbol: 'BTCUSDT', fields: { position_amt: '1', ts_ms: '5', exchange_update_ms: '4' } },
        { symbol: 'ETHUSDT', fields: { position_amt: '-2', ts_ms: '6', exchange_update_ms: '' } },
      ],
      ttlMs: 3_600_000.4,
      publishChanged: true,
    });
    expect(call.keys).toEqual([
      'q:position:snapshot:BTCUSDT',
      'q:position:snapshot:ETHUSDT',
      'q:posguard:fence:brain-poller',
    ]);
    expect(Object.keys(call.argv).sort()).toEqual([
      'channel',
      'epoch',
      'fields',
      'rows',
      'symbols',
      'ttl_ms',
    ]);
    expect(call.argv.ttl_ms).toBe(3_600_000);
    expect(call.argv.epoch).toBe(1_767_225_600_001);
    expect(call.argv.channel).toBe(keys.snapshotChangedChannel);
    expect(call.argv.fields).toEqual([...SNAPSHOT_WRITE_FIELDS]);
    expect(call.argv.symbols).toEqual(['BTCUSDT', 'ETHUSDT']);
    const rows = call.argv.rows as (string | false)[][];
    expect(rows[0]).toHaveLength(SNAPSHOT_WRITE_FIELDS.length);
    const eth = rows[1]!;
    expect(eth[SNAPSHOT_WRITE_FIELDS.indexOf('position_amt')]).toBe('-2');
    expect(eth[SNAPSHOT_WRITE_FIELDS.indexOf('exchange_update_ms')]).toBe('');
    expect(eth[SNAPSHOT_WRITE_FIELDS.indexOf('mark_price')]).toBe(false);
    expect(commandArgs(brainWriteSnapshots, call)).toEqual([
      3,
      ...call.keys,
      JSON.stringify(call.argv),
    ]);
  });

  it('publishes nothing unless asked; never a TTL below 1 ms', () => {
    const call = brainWriteSnapshots.encode({
      keys,
      epoch: 1,
      writes: [{ symbol: 'BTCUSDT', fields: {} }],
      ttlMs: 0.2,
      publishChanged: false,
    });
    expect(call.argv.channel).toBe('');
    expect(call.argv.ttl_ms).toBe(1);
  });

  it('refuses to build an invalid symbol into a key, and a writer without a valid epoch', () => {
    expect(() =>
      brainWriteSnapshots.encode({
        keys,
        epoch: 1,
        writes: [{ symbol: 'BTC USDT*', fields: {} }],
        ttlMs: 1000,
        publishChanged: false,
      }),
    ).toThrow();
    for (const epoch of [0, -1, 1.5, Number.NaN])
      expect(() =>
        brainWriteSnapshots.encode({
          keys,
          epoch,
          writes: [{ symbol: 'BTCUSDT', fields: {} }],
          ttlMs: 1000,
          publishChanged: false,
        }),
      ).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });
});

describe('brain_write_snapshots decode', () => {
  const decode = (reply: unknown) => decodeReply(brainWriteSnapshots, JSON.stringify(reply));

  it('one outcome per key: written (changed or not), stale, wrong_type naming the key', () => {
    expect(
      decode({
        status: 'ok',
        keys: 4,
        written: 2,
        changed: [2],
        stale: [3],
        wrong_type: [{ i: 4, key: 'k', found: 'string' }],
      }),
    ).toEqual([
      { kind: 'written', changed: false },
      { kind: 'written', changed: true },
      { kind: 'stale' },
      { kind: 'wrong_type', key: 'k', found: 'string' },
    ]);
    // Lists are left out when empty (cjson would encode an empty table as {}).
    expect(decode({ status: 'ok', keys: 1, written: 1 })).toEqual([
      { kind: 'written', changed: false },
    ]);
  });

  it('the whole batch refused: fenced (fence null = missing or unreadable), the fence key of the wrong type', () => {
    expect(decode({ status: 'fenced', fence: 7, epoch: 6 })).toEqual({
      status: 'fenced',
      fence: 7,
      epoch: 6,
    });
    expect(decode({ status: 'fenced', fence: null, epoch: 6 })).toEqual({
      status: 'fenced',
      fence: null,
      epoch: 6,
    });
    expect(
      decode({ status: 'wrong_type', key: 'q:posguard:fence:brain-poller', found: 'list' }),
    ).toEqual({
      status: 'wrong_type',
      key: 'q:posguard:fence:brain-poller',
      found: 'list',
    });
  });

  it('an unknown status, or a reply that does not add up, is SCRIPT_REPLY_INVALID', () => {
    const invalid: unknown[] = [
      { status: 'OK', keys: 1, written: 1 },
      { status: 'written', keys: 1, written: 1 },
      { status: 'ok', keys: 1, written: 0, stale: [1], changed: [1] }, // one key, two outcomes
      { status: 'ok', keys: 1, written: 1, stale: [1] }, // count disagrees
      { status: 'ok', keys: 1, written: 1, changed: [5] }, // index out of range
      { status: 'ok', keys: 1, written: 1, changed: {} },
      { status: 'ok', keys: 1, written: 0, wrong_type: [{ i: 1, key: 'k' }] },
      { status: 'ok', keys: 0.5, written: 0 },
      { status: 'ok', written: 1 },
      { status: 'fenced', fence: 7 },
      { status: 'fenced', fence: -1, epoch: 6 },
      { status: 'wrong_type', key: 'k' },
    ];
    for (const reply of invalid) {
      expect(() => decode(reply), JSON.stringify(reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
    }
    for (const reply of [[2, 2, 'changed'], 'OK', null]) {
      expect(() => decodeReply(brainWriteSnapshots, reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
    }
  });
});
