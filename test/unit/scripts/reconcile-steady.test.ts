/** reconcile_steady: encode and decode, no Redis (node-redis' pure half of a command spec). */
import { describe, expect, it } from 'vitest';
import { buildKeys } from '../../../src/redis/keys.js';
import { reconcileSteady } from '../../../src/redis/scripts/reconcile-steady.js';
import { commandArgs, decodeReply } from '../../../src/redis/scripts/script.js';

const keys = buildKeys('q');
const decode = (reply: unknown) => decodeReply(reconcileSteady, JSON.stringify(reply));

describe('reconcile_steady encode', () => {
  it('one state key per row in KEYS, the fence last; the epoch, time, the field list and the rows as the one ARGV object', () => {
    const call = reconcileSteady.encode({
      keys,
      epoch: 1_767_225_600_001,
      nowMs: 1_767_225_600_250,
      fields: ['detail', 'diff_amt'],
      rows: [
        { symbol: 'AUSDT', values: ['a', '0'] },
        { symbol: 'BUSDT', values: ['b', '0'] },
      ],
    });
    expect(call.keys).toEqual([
      'q:reconcile:state:AUSDT',
      'q:reconcile:state:BUSDT',
      'q:posguard:fence:reconcile',
    ]);
    expect(call.argv).toEqual({
      epoch: 1_767_225_600_001,
      ts: '1767225600',
      now_ms: '1767225600250',
      fields: ['detail', 'diff_amt'],
      rows: [
        ['a', '0'],
        ['b', '0'],
      ],
    });
    expect(commandArgs(reconcileSteady, call)).toEqual([
      3,
      ...call.keys,
      JSON.stringify(call.argv),
    ]);
  });
});

describe('reconcile_steady decode', () => {
  it('one outcome per key: written, wrong_type (key and type), failed (Redis error text)', () => {
    expect(decode({ status: 'ok', keys: 2, written: 2 })).toEqual([
      { kind: 'written' },
      { kind: 'written' },
    ]);
    expect(
      decode({
        status: 'ok',
        keys: 3,
        written: 1,
        wrong_type: [{ i: 2, key: 'q:reconcile:state:BUSDT', found: 'string' }],
        failed: [{ i: 3, error: 'OOM command not allowed' }],
      }),
    ).toEqual([
      { kind: 'written' },
      { kind: 'wrong_type', key: 'q:reconcile:state:BUSDT', found: 'string' },
      { kind: 'failed', problem: 'OOM command not allowed' },
    ]);
  });

  it('the whole batch refused: fenced (fence null = missing or unreadable), the fence key of the wrong type', () => {
    expect(decode({ status: 'fenced', fence: 7, epoch: 6 })).toEqual({
      status: 'fenced',
      fence: 7,
      epoch: 6,
    });
    expect(decode({ status: 'fenced', fence: null, epoch: 6 })).toMatchObject({ fence: null });
    expect(
      decode({ status: 'wrong_type', key: 'q:posguard:fence:reconcile', found: 'hash' }),
    ).toEqual({
      status: 'wrong_type',
      key: 'q:posguard:fence:reconcile',
      found: 'hash',
    });
  });

  it('outcomes that do not account for every key exactly once, an unknown status or an old array reply: SCRIPT_REPLY_INVALID', () => {
    for (const reply of [
      { status: 'ok', keys: 2, written: 1 }, // a row unaccounted for
      {
        status: 'ok',
        keys: 2,
        written: 0,
        failed: [
          { i: 1, error: 'e' },
          { i: 1, error: 'e' },
        ],
      },
      { status: 'ok', keys: 1, written: 0, failed: [{ i: 3, error: 'e' }] }, // out of range
      { status: 'ok', keys: 1, written: 0, wrong_type: [{ i: 1, key: 'k' }] },
      { status: 'ok', keys: 1, written: 1, failed: {} },
      { status: 'OK', keys: 1, written: 1 },
      { status: 'ok', written: 1 },
      { status: 'fenced', fence: 7 },
      { status: 'wrong_type', found: 'hash' },
    ]) {
      expect(() => decode(reply), JSON.stringify(reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
    }
    for (const reply of [[2], [1, 2, 'wrong_type k string'], 'OK'])
      expect(() => decodeReply(reconcileSteady, reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
  });
});
