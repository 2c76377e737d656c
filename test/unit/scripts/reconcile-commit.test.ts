/**
 * reconcile_commit: encode and decode, no Redis (node-redis' pure half of a command spec).
 * How a decision becomes these arguments: test/reconcile/commit-script.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { buildKeys } from '../../../src/redis/keys.js';
import { type CommitArgs, reconcileCommit } from '../../../src/redis/scripts/reconcile-commit.js';
import { commandArgs, decodeReply } from '../../../src/redis/scripts/script.js';

const keys = buildKeys('q');
const decode = (reply: unknown) => decodeReply(reconcileCommit, JSON.stringify(reply));

const status: CommitArgs = {
  keys,
  epoch: 1_767_225_600_001,
  symbol: 'BTCUSDT',
  action: 'status',
  status: 'HOLD',
  reason: 'qty_mismatch_no_evidence',
  holdPolicy: 'set',
  nowMs: 1_767_225_600_250,
  holdTtlMs: 300_000.4,
  eventsMaxlen: 10_000,
  state: { detail: 'x' },
  details: { status: 'HOLD' },
};
const write = {
  expect: { version: '1' },
  ledger: { ledger_amt: '0.1', version: '2' },
  event: { new_ledger_amt: '0.1' },
  ledgerTtlMs: 86_400_000,
  evidenceTtlMs: 600_000,
  appliedTtlMs: 86_400_000,
};

describe('reconcile_commit encode', () => {
  it('a status call: the six fixed keys, the fence last; the epoch a number, time, TTLs and counts as strings in the one ARGV object', () => {
    const call = reconcileCommit.encode(status);
    expect(call.keys).toEqual([
      'q:reconcile:hold:BTCUSDT',
      'q:posguard:hold:owner:BTCUSDT',
      'q:reconcile:state:BTCUSDT',
      'q:stream:reconcile.events',
      'q:position:ledger:BTCUSDT',
      'q:posguard:fence:reconcile',
    ]);
    expect(call.argv).toEqual({
      epoch: 1_767_225_600_001,
      action: 'status',
      symbol: 'BTCUSDT',
      status: 'HOLD',
      reason: 'qty_mismatch_no_evidence',
      hold_policy: 'set',
      now_ms: '1767225600250',
      ts: '1767225600',
      hold_ttl_ms: '300000',
      events_maxlen: '10000',
      state: { detail: 'x' },
      details: { status: 'HOLD' },
    });
    expect(commandArgs(reconcileCommit, call)).toEqual([
      6,
      ...call.keys,
      JSON.stringify(call.argv),
    ]);
  });

  it('a status call carries no ledger write even when one is given', () => {
    const call = reconcileCommit.encode({ ...status, ledgerWrite: write });
    expect(call.argv).not.toHaveProperty('ledger');
    expect(call.argv).not.toHaveProperty('expect');
  });

  it('a repair: after the fence two markers per evidence entry, then the order marker last; init/repair without a ledger write is refused', () => {
    const call = reconcileCommit.encode({
      ...status,
      action: 'repair',
      ledgerWrite: write,
      repair: { entryIds: ['5-0', '6-0'], orderMarker: { mode: 'set', orderId: '42' } },
    });
    expect(call.keys.slice(6)).toEqual([
      'q:posguard:evidence:used:5-0',
      'q:posguard:result:applied:5-0',
      'q:posguard:evidence:used:6-0',
      'q:posguard:result:applied:6-0',
      'q:posguard:order:accounted:BTCUSDT:42',
    ]);
    expect(call.argv).toMatchObject({
      action: 'repair',
      expect: { version: '1' },
      ledger: { ledger_amt: '0.1', version: '2' },
      event: { new_ledger_amt: '0.1' },
      ledger_ttl_ms: '86400000',
      evidence_ttl_ms: '600000',
      applied_ttl_ms: '86400000',
      order_marker: 'set',
    });
    const init = reconcileCommit.encode({ ...status, action: 'init', ledgerWrite: write });
    expect(init.keys).toHaveLength(6);
    expect(init.argv).not.toHaveProperty('order_marker');
    expect(() => reconcileCommit.encode({ ...status, action: 'init' })).toThrow(
      expect.objectContaining({ code: 'USAGE' }),
    );
  });

  it('refuses a writer without a valid epoch before anything is sent', () => {
    for (const epoch of [0, -1, 1.5, Number.NaN, 2 ** 53])
      expect(() => reconcileCommit.encode({ ...status, epoch })).toThrow(
        expect.objectContaining({ code: 'USAGE' }),
      );
  });
});

describe('reconcile_commit decode', () => {
  it('maps every status to its typed result', () => {
    expect(
      decode({ status: 'ok', hold_by: 'p34', new_episode: true, events: 2, hold_lost: false }),
    ).toEqual({ code: 'ok', holdBy: 'p34', newEpisode: true, events: 2, holdLost: false });
    for (const code of ['conflict', 'evidence_used', 'evidence_applied'])
      expect(
        decode({ status: code, hold_by: '', new_episode: false, events: 0, hold_lost: false }),
      ).toEqual({ code, holdBy: '', newEpisode: false, events: 0, holdLost: false });
    expect(
      decode({ status: 'ok', hold_by: 'shared', new_episode: false, events: 0, hold_lost: true }),
    ).toMatchObject({ holdBy: 'shared', holdLost: true });
    expect(decode({ status: 'wrong_type', key: 'q:reconcile:state:X', found: 'list' })).toEqual({
      code: 'wrong_type',
      key: 'q:reconcile:state:X',
      found: 'list',
    });
    expect(decode({ status: 'fenced', fence: 9, epoch: 8 })).toEqual({
      status: 'fenced',
      fence: 9,
      epoch: 8,
    });
    expect(decode({ status: 'fenced', fence: null, epoch: 8 })).toEqual({
      status: 'fenced',
      fence: null,
      epoch: 8,
    });
  });

  it('an unknown status or holder, a field of the wrong type, or the old array reply: SCRIPT_REPLY_INVALID', () => {
    const ok = { status: 'ok', hold_by: 'p34', new_episode: true, events: 2, hold_lost: false };
    for (const reply of [
      { ...ok, status: 'OK' },
      { ...ok, hold_by: 'someone' },
      { ...ok, new_episode: 1 },
      { ...ok, events: '2' },
      { ...ok, events: -1 },
      { ...ok, hold_lost: 2 },
      { status: 'ok', hold_by: 'p34' },
      { status: 'wrong_type', key: 'k' },
      { status: 'fenced', fence: '9', epoch: 8 },
      { status: 'fenced', fence: 9 },
    ]) {
      expect(() => decode(reply), JSON.stringify(reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
    }
    for (const reply of [['ok', 'p34', 1, 2, 0], ['wrong_type', 'k', 'list'], 'ok'])
      expect(() => decodeReply(reconcileCommit, reply)).toThrow(
        expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' }),
      );
  });
});
