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
  decodeHeartbeatReply,
  decodeReconcileState,
  decodeSymbolState,
  decodeSymbolStates,
  holdFrom,
  ledgerFrom,
  lotSizeFrom,
  reconcileStateFrom,
  snapshotFrom,
  symbolStateCommands,
  symbolStateProjection,
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

describe('projections: a reader reads only the parts it asks for', () => {
  const keys = buildKeys('q');

  it("the brain's rule inputs: snapshot, ledger with its lot size, and the hold's PTTL alone", () => {
    const rules = symbolStateProjection(['snapshot', 'ledger', 'lotSize', 'holdTtl']);
    expect(symbolStateCommands(keys, 'BTCUSDT', rules)).toEqual([
      ['hgetall', 'q:position:snapshot:BTCUSDT'],
      ['hgetall', 'q:position:ledger:BTCUSDT'],
      ['hgetall', 'q:posguard:symbol:BTCUSDT'],
      ['pttl', 'q:reconcile:hold:BTCUSDT'],
    ]);
    const s = decodeSymbolState(
      'BTCUSDT',
      [replies()[0], replies()[1], replies()[2], ok(-1)] as PipelineReply[],
      rules,
    );
    expect(Object.keys(s).sort()).toEqual(
      ['holdTtl', 'ledger', 'lotSize', 'snapshot', 'symbol', 'wrongType'].sort(),
    );
    expect(s.holdTtl).toEqual({ present: true, ttlMs: null }); // no expiry: still a hold
    expect(s.lotSize && formatAmount(s.lotSize.stepSize)).toBe('0.001');
  });

  it('the ledger is always decoded with ε of its lot size, even when the lot size is not asked for', () => {
    const ledgerOnly = symbolStateProjection(['ledger']);
    expect(symbolStateCommands(keys, 'BTCUSDT', ledgerOnly).map(([, key]) => key)).toEqual([
      'q:position:ledger:BTCUSDT',
      'q:posguard:symbol:BTCUSDT',
    ]);
    // 0.0004 FLAT is within ε = 0.0005 (half the step): flat, not invalid (SPEC §4).
    const flat = ok({ ledger_amt: '0.0004', ledger_side: 'FLAT', version: '3' });
    const lot = ok({ step_size: '0.001', min_qty: '0.001' });
    const s = decodeSymbolState('BTCUSDT', [flat, lot], ledgerOnly);
    expect(s.ledger.kind === 'ok' && s.ledger.ledger.amount.isZero()).toBe(true);
    expect(decodeSymbolState('BTCUSDT', [flat, ok({})], ledgerOnly).ledger.kind).toBe('invalid');
  });

  it('the ledger as stored and its TTL (`ledger show`), one HGETALL for fields and decode', () => {
    const show = symbolStateProjection(['ledger', 'ledgerFields', 'ledgerTtlMs']);
    expect(symbolStateCommands(keys, 'BTCUSDT', show)).toEqual([
      ['hgetall', 'q:position:ledger:BTCUSDT'],
      ['hgetall', 'q:posguard:symbol:BTCUSDT'],
      ['pttl', 'q:position:ledger:BTCUSDT'],
    ]);
    const fields = { ledger_amt: 'abc', version: '4' };
    const s = decodeSymbolState('BTCUSDT', [ok(fields), ok({}), ok(86_400_000)], show);
    expect(s.ledgerFields).toEqual(fields);
    expect(s.ledger.kind).toBe('invalid');
    expect(s.ledgerTtlMs).toBe(86_400_000);
    const noTtl = decodeSymbolState('BTCUSDT', [ok({}), ok({}), ok(-1)], show);
    expect(noTtl.ledgerTtlMs).toBeNull();
    const wrong = decodeSymbolState('BTCUSDT', [wrongType(), ok({}), ok(-1)], show);
    expect(wrong.ledgerFields).toBeNull();
    expect(wrong.wrongType).toEqual(['ledger']);
  });

  it('wrongType names every key that held another type, by the part it belongs to', () => {
    const s = decodeSymbolState(
      'BTCUSDT',
      replies({ 0: wrongType(), 3: wrongType(), 6: wrongType() }),
    );
    expect(s.wrongType).toEqual(['snapshot', 'state', 'holdOwner']);
    expect(decodeSymbolState('BTCUSDT', replies()).wrongType).toEqual([]);
  });

  it('decodes N symbols of a projection from one reply list, in order', () => {
    const snap = symbolStateProjection(['snapshot']);
    const states = decodeSymbolStates(
      ['BTCUSDT', 'ETHUSDT'],
      [ok({}), ok({ position_amt: '-2', ts_ms: '1735680000000' })],
      snap,
    );
    expect(states.map((s) => s.snapshot.kind)).toEqual(['missing', 'ok']);
    expect(states[1]?.symbol).toBe('ETHUSDT');
  });
});

describe('the reconcile heartbeat reply', () => {
  it('decoded when a string, missing when absent, invalid when of another type; other errors throw', () => {
    const beat = JSON.stringify({ ts_ms: 1, failing_symbols: ['ETHUSDT'] });
    const read = decodeHeartbeatReply(ok(beat));
    expect(read.kind === 'ok' && [...read.failingSymbols]).toEqual(['ETHUSDT']);
    expect(decodeHeartbeatReply(ok(null))).toEqual({ kind: 'missing' });
    expect(decodeHeartbeatReply(wrongType())).toEqual({
      kind: 'invalid',
      problem: 'heartbeat is not a string',
    });
    expect(() => decodeHeartbeatReply([new Error('Connection is closed.'), null])).toThrow(
      'Connection is closed.',
    );
  });
});

describe("part decoders (what the engine's batched Lua read decodes through)", () => {
  const error = { kind: 'error', problem: 'WRONGTYPE: the key is not a hash' } as const;

  it('a hash is decoded by its codec; an unreadable one is invalid with its problem', () => {
    const snap = snapshotFrom({
      kind: 'hash',
      fields: { position_amt: '1', ts_ms: '1735680000000' },
    });
    expect(snap.kind).toBe('ok');
    expect(snapshotFrom(error)).toEqual({ kind: 'invalid', problem: error.problem });
    expect(ledgerFrom(error, null)).toEqual({
      kind: 'invalid',
      problem: error.problem,
      rawVersion: '',
    });
    expect(lotSizeFrom(error)).toBeNull();
    expect(reconcileStateFrom(error)).toEqual({ kind: 'invalid', problem: error.problem });
    const lot = lotSizeFrom({ kind: 'hash', fields: { step_size: '0.001', min_qty: '0.001' } });
    const flat = { kind: 'hash', fields: { ledger_amt: '0.0004', ledger_side: 'FLAT' } } as const;
    expect(ledgerFrom(flat, lot).kind).toBe('ok');
    expect(ledgerFrom(flat, null).kind).toBe('invalid');
  });

  it('the hold from PTTL, PEXPIRETIME and the marker', () => {
    expect(holdFrom({ pttlMs: 5000, expireTimeMs: 1000, marker: 'p34:1000' })).toEqual({
      present: true,
      owner: 'p34',
      ttlMs: 5000,
      expireTimeMs: 1000,
      marker: 'p34:1000',
    });
    expect(holdFrom({ pttlMs: -2, expireTimeMs: -2, marker: null }).present).toBe(false);
    expect(holdFrom({ pttlMs: 5000, expireTimeMs: null, marker: 'p34:1000' }).owner).toBe(
      'operator',
    );
    expect(holdFrom({ pttlMs: -1, expireTimeMs: -1, marker: undefined })).toMatchObject({
      owner: 'unreadable',
      ttlMs: null,
      expireTimeMs: null,
    });
  });
});
