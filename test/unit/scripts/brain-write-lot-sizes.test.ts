/** brain_write_lot_sizes: encode and decode, no Redis (node-redis' pure half of a command spec). */
import { describe, expect, it } from 'vitest';
import { parseAmount } from '../../../src/domain/amount.js';
import { encodeLotSize } from '../../../src/domain/lot-size.js';
import { buildKeys } from '../../../src/redis/keys.js';
import {
  LOT_SIZE_WRITE_FIELDS,
  brainWriteLotSizes,
} from '../../../src/redis/scripts/brain-write-lot-sizes.js';
import { commandArgs, decodeReply } from '../../../src/redis/scripts/script.js';

const keys = buildKeys('q');
const decode = (reply: unknown) => decodeReply(brainWriteLotSizes, JSON.stringify(reply));
const usage: unknown = expect.objectContaining({ code: 'USAGE' });
const lot = encodeLotSize(
  { stepSize: parseAmount('0.001')!, minQty: parseAmount('0.001')!, maxQty: null },
  1_767_225_600_000,
);

describe('brain_write_lot_sizes encode', () => {
  it('every lot-size key in KEYS, the brain-poller fence last; the epoch, the fields and one row per key', () => {
    const call = brainWriteLotSizes.encode({
      keys,
      epoch: 1_767_225_600_001,
      writes: [
        { symbol: 'BTCUSDT', fields: lot },
        { symbol: 'ETHUSDT', fields: { ...lot, step_size: '0.01' } },
      ],
    });
    expect(call.keys).toEqual([
      'q:posguard:symbol:BTCUSDT',
      'q:posguard:symbol:ETHUSDT',
      'q:posguard:fence:brain-poller',
    ]);
    expect(call.argv).toEqual({
      epoch: 1_767_225_600_001,
      fields: [...LOT_SIZE_WRITE_FIELDS],
      rows: [
        ['0.001', '0.001', '', '1767225600000'],
        ['0.01', '0.001', '', '1767225600000'],
      ],
    });
    expect(Object.keys(lot).sort()).toEqual([...LOT_SIZE_WRITE_FIELDS].sort());
    expect(commandArgs(brainWriteLotSizes, call)).toEqual([
      3,
      ...call.keys,
      JSON.stringify(call.argv),
    ]);
  });

  it('refuses a writer without a valid epoch, a lot size missing a field, an invalid symbol', () => {
    const base = { keys, epoch: 5, writes: [{ symbol: 'BTCUSDT', fields: lot }] };
    for (const epoch of [0, -1, 1.5, Number.NaN])
      expect(() => brainWriteLotSizes.encode({ ...base, epoch })).toThrow(usage);
    const { step_size: _dropped, ...partial } = lot;
    expect(() =>
      brainWriteLotSizes.encode({ ...base, writes: [{ symbol: 'BTCUSDT', fields: partial }] }),
    ).toThrow(usage);
    expect(() =>
      brainWriteLotSizes.encode({ ...base, writes: [{ symbol: 'BTC*', fields: lot }] }),
    ).toThrow();
  });
});

describe('brain_write_lot_sizes decode', () => {
  it('one outcome per key: written, wrong_type naming the key; or the batch fenced / its fence key wrong-typed', () => {
    expect(
      decode({
        status: 'ok',
        keys: 3,
        written: 2,
        wrong_type: [{ i: 2, key: 'q:posguard:symbol:ETHUSDT', found: 'string' }],
      }),
    ).toEqual([
      { kind: 'written' },
      { kind: 'wrong_type', key: 'q:posguard:symbol:ETHUSDT', found: 'string' },
      { kind: 'written' },
    ]);
    expect(decode({ status: 'ok', keys: 1, written: 1 })).toEqual([{ kind: 'written' }]);
    expect(decode({ status: 'fenced', fence: 7, epoch: 6 })).toEqual({
      status: 'fenced',
      fence: 7,
      epoch: 6,
    });
    expect(decode({ status: 'fenced', fence: null, epoch: 6 })).toMatchObject({ fence: null });
    expect(decode({ status: 'wrong_type', key: 'f', found: 'list' })).toEqual({
      status: 'wrong_type',
      key: 'f',
      found: 'list',
    });
  });

  it('an unknown status, or outcomes that do not add up, is SCRIPT_REPLY_INVALID', () => {
    for (const reply of [
      { status: 'OK', keys: 1, written: 1 },
      { status: 'ok', keys: 2, written: 1 },
      { status: 'ok', keys: 1, written: 0, wrong_type: [{ i: 2, key: 'k', found: 'list' }] },
      {
        status: 'ok',
        keys: 1,
        written: 0,
        wrong_type: [
          { i: 1, key: 'k', found: 'list' },
          { i: 1, key: 'k', found: 'list' },
        ],
      },
      { status: 'ok', keys: 1, written: 1, wrong_type: {} },
      { status: 'fenced', epoch: 6 },
      { status: 'wrong_type', key: 'k' },
    ])
      expect(() => decode(reply), JSON.stringify(reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
  });
});
