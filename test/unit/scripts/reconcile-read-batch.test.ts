/**
 * reconcile_read_batch: encode and decode, no Redis (node-redis' pure half of a command
 * spec), and the engine's batch plan and per-batch decoding (src/reconcile/read.ts).
 */
import { describe, expect, it } from 'vitest';
import { buildKeys } from '../../../src/redis/keys.js';
import {
  type ReadBatchEntry,
  reconcileReadBatch,
  symbolReadKeys,
} from '../../../src/redis/scripts/reconcile-read-batch.js';
import { commandArgs, decodeReply } from '../../../src/redis/scripts/script.js';
import { type ReadBatch, batchReads, planReadBatches } from '../../../src/reconcile/read.js';

const keys = buildKeys('q');
const decode = (reply: unknown) => decodeReply(reconcileReadBatch, JSON.stringify(reply));
/** An entry as the script writes it for a symbol with no keys at all. */
const EMPTY = [{ full: {} }, { full: {} }, '', -2, '', { full: {} }, { full: {} }, -2];

describe('reconcile_read_batch encode', () => {
  it('six keys per symbol in KEYS; the field lists as the one ARGV object', () => {
    const symbolKeys = [...symbolReadKeys(keys, 'AUSDT'), ...symbolReadKeys(keys, 'BUSDT')];
    expect(symbolKeys.slice(0, 6)).toEqual([
      'q:position:snapshot:AUSDT',
      'q:position:ledger:AUSDT',
      'q:reconcile:hold:AUSDT',
      'q:posguard:hold:owner:AUSDT',
      'q:reconcile:state:AUSDT',
      'q:posguard:symbol:AUSDT',
    ]);
    const call = reconcileReadBatch.encode({ symbolKeys });
    expect(call.keys).toEqual(symbolKeys);
    expect(Object.keys(call.argv).sort()).toEqual(['ledger', 'lot', 'snapshot', 'state']);
    expect(call.argv.lot).toEqual(['step_size', 'min_qty', 'max_qty']);
    expect(commandArgs(reconcileReadBatch, call)).toEqual([
      12,
      ...symbolKeys,
      JSON.stringify(call.argv),
    ]);
  });

  it('plans batches of the given size with six keys per symbol', () => {
    const batches = planReadBatches(keys, ['AUSDT', 'BUSDT', 'CUSDT'], 2);
    expect(batches.map((b) => [b.offset, b.symbols.length, b.keys.length])).toEqual([
      [0, 2, 12],
      [2, 1, 6],
    ]);
  });
});

describe('reconcile_read_batch decode', () => {
  it('HMGET values by field name (false = absent); {full} when none exists; {} for an absent key', () => {
    const snapshot = ['0.062', '1767225600000', false, false, false, false, false, false, false];
    const [entry] = decode({
      status: 'ok',
      symbols: [
        [
          snapshot,
          { full: ['foo', 'bar'] },
          '1',
          5000,
          'p34:99',
          { full: {} },
          ['0.001', '0.001', false],
          99,
        ],
      ],
    });
    expect(entry).toEqual({
      kind: 'read',
      read: {
        snapshot: { kind: 'hash', fields: { position_amt: '0.062', ts_ms: '1767225600000' } },
        ledger: { kind: 'hash', fields: { foo: 'bar' } },
        hold: '1',
        holdPttlMs: 5000,
        holdExpireMs: 99,
        holdOwner: 'p34:99',
        state: {},
        lotSize: { kind: 'hash', fields: { step_size: '0.001', min_qty: '0.001' } },
      },
    });
  });

  it('a key of the wrong type in its slot: hashes unreadable, the hold still a hold, the marker unreadable (never "no marker")', () => {
    const [entry] = decode({
      status: 'ok',
      symbols: [
        ['WRONGTYPE', 'WRONGTYPE', 'WRONGTYPE', -1, 'WRONGTYPE', 'WRONGTYPE', 'WRONGTYPE', -1],
      ],
    });
    expect(entry).toMatchObject({
      kind: 'read',
      read: {
        snapshot: { kind: 'error', problem: expect.stringContaining('WRONGTYPE') as unknown },
        ledger: { kind: 'error' },
        hold: 'WRONGTYPE',
        holdPttlMs: -1,
        holdExpireMs: -1,
        holdOwner: undefined,
        state: {},
        lotSize: { kind: 'error' },
      },
    });
    const absent = decode({ status: 'ok', symbols: [EMPTY] })[0];
    expect(absent).toMatchObject({ read: { hold: null, holdOwner: null, holdExpireMs: -2 } });
    // PEXPIRETIME unknown (Redis < 7): -3
    const old = decode({ status: 'ok', symbols: [[...EMPTY.slice(0, 7), -3]] })[0];
    expect(old).toMatchObject({ read: { holdExpireMs: null } });
  });

  it('a bad entry makes only its symbol unreadable; an empty batch is {}', () => {
    const entries = decode({ status: 'ok', symbols: [EMPTY, ['short']] });
    expect(entries[0]?.kind).toBe('read');
    expect(entries[1]).toMatchObject({ kind: 'unreadable' });
    expect(decode({ status: 'ok', symbols: {} })).toEqual([]);
  });

  it('an unknown status, an old array reply or symbols that are not a list is SCRIPT_REPLY_INVALID', () => {
    for (const reply of [
      { status: 'OK', symbols: [] },
      { status: 'ok', symbols: 'x' },
      { status: 'ok' },
    ])
      expect(() => decode(reply), JSON.stringify(reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
    expect(() => decode([EMPTY])).toThrow(
      expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
    );
  });
});

describe('a batch of reads (src/reconcile/read.ts)', () => {
  const batch = planReadBatches(keys, ['AUSDT', 'BUSDT'])[0] as ReadBatch;
  const read = decode({ status: 'ok', symbols: [EMPTY] })[0] as ReadBatchEntry;

  it('names each entry by its symbol; a bad entry makes only its symbol unreadable', () => {
    const reads = batchReads(batch, null, [read, { kind: 'unreadable', problem: 'bad' }]);
    expect(reads[0]).toMatchObject({ symbol: 'AUSDT', snapshot: { kind: 'hash', fields: {} } });
    expect(reads[1]).toMatchObject({ symbol: 'BUSDT', snapshot: { kind: 'error' }, hold: null });
  });

  it('a failed call or a reply that does not match the batch makes the whole batch unreadable', () => {
    for (const [error, entries] of [
      [new Error('OOM command not allowed'), undefined],
      [null, undefined],
      [null, [read]],
      [null, [read, read, read]],
    ] as const) {
      const reads = batchReads(batch, error, entries);
      expect(reads.map((r) => r.symbol)).toEqual(['AUSDT', 'BUSDT']);
      for (const r of reads) {
        expect(r.snapshot.kind).toBe('error');
        expect(r.ledger.kind).toBe('error');
        expect(r.lotSize.kind).toBe('error');
      }
    }
  });
});
