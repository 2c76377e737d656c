/**
 * The symbol-state decode (no Redis): replies in the order of `symbolStateCommands`, decoded
 * with the shared codecs; wrong types are per-part problems, other errors throw.
 */
import { describe, expect, it } from 'vitest';
import { formatAmount } from '../../src/domain/amount.js';
import { decideHoldOwner } from '../../src/domain/hold-owner.js';
import { buildKeys } from '../../src/redis/keys.js';
import {
  type PipelineReply,
  SYMBOL_STATE_COMMANDS,
  decodeReconcileState,
  decodeSymbolState,
  decodeSymbolStates,
  symbolStateCommands,
} from '../../src/redis/symbol-state.js';

const ok = (value: unknown): PipelineReply => [null, value];
const wrongType = (): PipelineReply => [
  new Error('WRONGTYPE Operation against a key holding the wrong kind of value'),
  null,
];

function replies(over: Partial<Record<number, PipelineReply>> = {}): PipelineReply[] {
  const base: PipelineReply[] = [
    ok({ position_amt: '0.038', ts_ms: '1735680000000' }),
    ok({ last_known_amt: '0.030', last_known_side: 'LONG' }), // legacy shape (LESSONS #1)
    ok({ step_size: '0.001', min_qty: '0.001' }),
    ok({ status: 'HOLD', reason: 'qty_mismatch_no_evidence', since_ts: '1735680000' }),
    ok(250_000),
    ok(1_735_680_300_000),
    ok('p34:1735680300000'), // the engine's marker records its hold's exact expiry
  ];
  return base.map((reply, i) => over[i] ?? reply);
}

describe('symbol state decode', () => {
  it('reads every command in the documented order, one key each', () => {
    const keys = buildKeys('q');
    expect(symbolStateCommands(keys, 'BTCUSDT')).toEqual([
      ['hgetall', 'q:position:snapshot:BTCUSDT'],
      ['hgetall', 'q:position:ledger:BTCUSDT'],
      ['hgetall', 'q:posguard:symbol:BTCUSDT'],
      ['hgetall', 'q:reconcile:state:BTCUSDT'],
      ['pttl', 'q:reconcile:hold:BTCUSDT'],
      ['pexpiretime', 'q:reconcile:hold:BTCUSDT'],
      ['get', 'q:posguard:hold:owner:BTCUSDT'],
    ]);
    expect(SYMBOL_STATE_COMMANDS).toBe(7);
  });

  it('decodes snapshot, legacy ledger, lot size, state and an engine hold', () => {
    const s = decodeSymbolState('BTCUSDT', replies());
    expect(s.snapshot.kind === 'ok' && formatAmount(s.snapshot.snapshot.amount)).toBe('0.038');
    expect(s.ledger.kind === 'ok' && formatAmount(s.ledger.ledger.amount)).toBe('0.03');
    expect(s.lotSize && formatAmount(s.lotSize.stepSize)).toBe('0.001');
    expect(s.state).toEqual({
      kind: 'ok',
      state: expect.objectContaining({
        status: 'HOLD',
        reason: 'qty_mismatch_no_evidence',
        sinceMs: 1735680000000,
      }) as unknown,
    });
    expect(s.hold).toEqual({
      present: true,
      owner: 'p34',
      ttlMs: 250_000,
      expireTimeMs: 1_735_680_300_000,
      marker: 'p34:1735680300000',
    });
  });

  it('an absent hold has no owner and no TTL; a hold without marker is the operator’s', () => {
    const none = decodeSymbolState('BTCUSDT', replies({ 4: ok(-2), 5: ok(-2), 6: ok(null) }));
    expect(none.hold).toEqual({
      present: false,
      owner: null,
      ttlMs: null,
      expireTimeMs: null,
      marker: null,
    });
    const operator = decodeSymbolState('BTCUSDT', replies({ 6: ok(null) }));
    expect(operator.hold.owner).toBe('operator');
    const forever = decodeSymbolState('BTCUSDT', replies({ 4: ok(-1), 5: ok(-1), 6: ok(null) }));
    expect(forever.hold).toMatchObject({ present: true, ttlMs: null, expireTimeMs: null });
  });

  it('wrong types are per-part problems, never a crash (LESSONS #18)', () => {
    const s = decodeSymbolState(
      'BTCUSDT',
      replies({ 0: wrongType(), 1: wrongType(), 2: wrongType(), 3: wrongType(), 6: wrongType() }),
    );
    expect(s.snapshot).toEqual({ kind: 'invalid', problem: 'snapshot key is not a hash' });
    expect(s.ledger.kind).toBe('invalid');
    expect(s.lotSize).toBeNull();
    expect(s.state.kind).toBe('invalid');
    expect(s.hold.owner).toBe('unreadable');
  });

  it('Redis without PEXPIRETIME (6.2) still gives the hold and its TTL (no hold is provably the engine’s there)', () => {
    const s = decodeSymbolState(
      'BTCUSDT',
      replies({ 5: [new Error("ERR unknown command 'pexpiretime'"), null] }),
    );
    expect(s.hold).toMatchObject({ present: true, owner: 'operator', ttlMs: 250_000 });
    expect(s.hold.expireTimeMs).toBeNull();
  });

  it('a connection error or a missing reply throws instead of showing half a desk', () => {
    expect(() =>
      decodeSymbolState('BTCUSDT', replies({ 1: [new Error('Connection is closed.'), null] })),
    ).toThrow('Connection is closed.');
    expect(() => decodeSymbolStates(['BTCUSDT', 'ETHUSDT'], replies())).toThrow(/fewer replies/);
  });

  it('keeps an unknown status as text and empty fields as absent', () => {
    expect(decodeReconcileState({})).toEqual({ kind: 'missing' });
    const read = decodeReconcileState({ status: '<b>x</b>', reason: '', hold_by: '' });
    expect(read).toEqual({
      kind: 'ok',
      state: expect.objectContaining({
        status: null,
        unknownStatus: '<b>x</b>',
        reason: null,
        holdBy: '',
      }) as unknown,
    });
  });
});

describe('hold owner', () => {
  it('follows the engine marker and its recorded expiry; no hold, no owner', () => {
    const facts = { present: true, expireTimeMs: 1000 };
    expect(decideHoldOwner({ ...facts, marker: 'p34:1000' })).toBe('p34');
    // Another expiry (an operator's SETEX on top), none, or a marker without one: not p34.
    expect(decideHoldOwner({ ...facts, marker: 'p34:999' })).toBe('operator');
    expect(decideHoldOwner({ ...facts, expireTimeMs: -1, marker: 'p34:1000' })).toBe('operator');
    expect(decideHoldOwner({ ...facts, expireTimeMs: null, marker: 'p34:1000' })).toBe('operator');
    expect(decideHoldOwner({ ...facts, marker: 'p34' })).toBe('operator');
    expect(decideHoldOwner({ ...facts, marker: 'shared' })).toBe('shared');
    expect(decideHoldOwner({ ...facts, marker: null })).toBe('operator');
    expect(decideHoldOwner({ ...facts, marker: 'something-else' })).toBe('operator');
    expect(decideHoldOwner({ ...facts, marker: undefined })).toBe('unreadable');
    expect(decideHoldOwner({ present: false, expireTimeMs: null, marker: 'p34' })).toBeNull();
  });
});
