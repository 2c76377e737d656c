/** The reconcile heartbeat codec (SPEC §1, §11): it names the leader; older heartbeats still read. */
import { describe, expect, it } from 'vitest';
import { decodeHeartbeat, encodeHeartbeat } from '../../src/domain/reconcile-heartbeat.js';

const beat = {
  ts_ms: 1_767_225_600_250,
  instance: 'host-a:4242',
  epoch: 1_767_225_599_001,
  pid: 4242,
  host: 'host-a',
  cycle: 7,
  symbols: 3,
  cadence_sec: 1,
  failing_symbols: ['ETHUSDT'],
};

describe('reconcile heartbeat', () => {
  it('encodes the leader (instance, epoch) with the rest', () => {
    expect(JSON.parse(encodeHeartbeat(beat))).toEqual({ ...beat, ts_epoch: 1_767_225_600 });
  });

  it('decodes the leader it names', () => {
    const read = decodeHeartbeat(encodeHeartbeat(beat));
    expect(read).toEqual({
      kind: 'ok',
      failingSymbols: new Set(['ETHUSDT']),
      leader: { instance: 'host-a:4242', epoch: 1_767_225_599_001 },
    });
  });

  it('a heartbeat of an engine from before SPEC §11 (no instance, no epoch) still reads: no leader', () => {
    expect(decodeHeartbeat('{"ts_ms":1,"pid":1,"failing_symbols":[]}')).toEqual({
      kind: 'ok',
      failingSymbols: new Set(),
      leader: null,
    });
    expect(decodeHeartbeat('{}')).toEqual({ kind: 'ok', failingSymbols: new Set(), leader: null });
  });

  it('a malformed leader is no leader — never guessed — and does not make the heartbeat invalid', () => {
    for (const leader of [
      { instance: 'host a', epoch: 5 },
      { instance: '', epoch: 5 },
      { instance: 'h:1', epoch: '5' },
      { instance: 'h:1', epoch: 0 },
      { instance: 'h:1', epoch: 1.5 },
      { instance: 'h:1' },
      { epoch: 5 },
    ]) {
      const read = decodeHeartbeat(JSON.stringify({ ...leader, failing_symbols: ['BTCUSDT'] }));
      expect(read, JSON.stringify(leader)).toEqual({
        kind: 'ok',
        failingSymbols: new Set(['BTCUSDT']),
        leader: null,
      });
    }
  });

  it('what the brain cannot read stays invalid, leader or not', () => {
    expect(decodeHeartbeat('{not json')).toMatchObject({ kind: 'invalid' });
    expect(
      decodeHeartbeat(JSON.stringify({ instance: 'h:1', epoch: 5, failing_symbols: 'BTCUSDT' })),
    ).toMatchObject({ kind: 'invalid' });
    expect(decodeHeartbeat(null)).toEqual({ kind: 'missing' });
  });
});
