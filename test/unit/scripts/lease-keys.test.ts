/** Keys, instance ids, lease timing and presence records of SPEC §11 (pure, no Redis). */
import { describe, expect, it } from 'vitest';
import {
  defaultInstanceId,
  isInstanceId,
  leaderDeadlineMs,
  leaseTiming,
} from '../../../src/domain/leadership.js';
import { decodePresence, encodePresence, presenceRecord } from '../../../src/domain/presence.js';
import { buildKeys } from '../../../src/redis/keys.js';

describe('SPEC §11 keys', () => {
  const k = buildKeys('P');
  it('builds presence, lease, epoch and fence keys under P:posguard:', () => {
    expect(k.instance('reconcile', 'host-a:4242')).toBe(
      'P:posguard:instance:reconcile:host-a:4242',
    );
    expect(k.instanceKeyPrefix).toBe('P:posguard:instance:');
    expect(k.lease('reconcile')).toBe('P:posguard:lease:reconcile');
    expect(k.lease('brain-poller')).toBe('P:posguard:lease:brain-poller');
    expect(k.epoch('reconcile')).toBe('P:posguard:epoch:reconcile');
    expect(k.fence('brain-poller')).toBe('P:posguard:fence:brain-poller');
  });
  it('refuses ids, services and roles that would inject into the key space', () => {
    for (const bad of ['a b', 'x*', '', 'a/b', 'ä', 'x'.repeat(129), 'h\n1'])
      expect(() => k.instance('brain', bad)).toThrow(/invalid instance id/);
    for (const bad of ['Brain', 'br:ain', '', 'x'.repeat(33), '1brain'])
      expect(() => k.instance(bad, 'h:1')).toThrow(/invalid service name/);
    for (const bad of ['gate', 'reconcile*', ''])
      expect(() => k.fence(bad as 'reconcile')).toThrow(/invalid leader role/);
  });
});

describe('instance ids', () => {
  it('default hostname:pid, with characters a key may not hold replaced and long names cut', () => {
    expect(defaultInstanceId('host-a.example', 4242)).toBe('host-a.example:4242');
    expect(defaultInstanceId('bad host*', 7)).toBe('bad_host_:7');
    expect(defaultInstanceId('', 7)).toBe('host:7');
    const long = defaultInstanceId('h'.repeat(300), 4_194_304);
    expect(isInstanceId(long)).toBe(true);
    expect(long).toBe(`${'h'.repeat(100)}:4194304`);
  });
});

describe('lease timing', () => {
  it('renews every lease/3 and steps down lease/6 before the earliest expiry by default', () => {
    expect(leaseTiming(3000)).toEqual({ leaseMs: 3000, renewEveryMs: 1000, safetyMarginMs: 500 });
    expect(leaderDeadlineMs(10_000, leaseTiming(3000))).toBe(12_500);
    expect(leaseTiming(3000, 100).safetyMarginMs).toBe(100);
  });
  it('refuses a lease too short, a margin that leaves no renewal before the deadline', () => {
    for (const bad of [0, 29, 1.5, Number.NaN])
      expect(() => leaseTiming(bad)).toThrow(/lease length/);
    for (const bad of [0, 2000, 2500, 0.5])
      expect(() => leaseTiming(3000, bad)).toThrow(/safety margin/);
    expect(leaseTiming(3000, 1999).safetyMarginMs).toBe(1999);
  });
});

describe('presence records', () => {
  const base = {
    service: 'brain',
    id: 'host-a:1',
    roles: ['brain-poller' as const],
    version: '0.1.0',
    started_ms: 1_767_000_000_000,
  };
  it('round-trips; epoch is the highest epoch led, null when leading nothing', () => {
    const leading = presenceRecord(base, [{ role: 'brain-poller', epoch: 4 }]);
    expect(leading.epoch).toBe(4);
    expect(decodePresence(encodePresence(leading))).toEqual({ ok: true, record: leading });
    const idle = presenceRecord(base, []);
    expect(idle.epoch).toBeNull();
    expect(JSON.parse(encodePresence(idle))).toEqual({ ...base, epoch: null, leader_of: [] });
  });
  it('a broken record is a named problem, never a throw', () => {
    const good = JSON.parse(encodePresence(presenceRecord(base, []))) as Record<string, unknown>;
    const cases: [unknown, RegExp][] = [
      [null, /missing/],
      ['{', /not JSON/],
      ['[]', /not a JSON object/],
      [{ ...good, service: 'Brain' }, /service/],
      [{ ...good, id: 'a b' }, /id/],
      [{ ...good, roles: ['gate'] }, /roles/],
      [{ ...good, version: 1 }, /version/],
      [{ ...good, started_ms: -1 }, /started_ms/],
      [{ ...good, epoch: 0 }, /epoch/],
      [{ ...good, leader_of: [{ role: 'reconcile' }] }, /leader_of/],
      [{ ...good, leader_of: {} }, /leader_of/],
      [{ ...good, epoch: 3 }, /does not match/],
    ];
    for (const [raw, problem] of cases) {
      const text = raw === null || typeof raw === 'string' ? raw : JSON.stringify(raw);
      const decoded = decodePresence(text);
      expect(decoded.ok, String(text)).toBe(false);
      if (!decoded.ok) expect(decoded.problem).toMatch(problem);
    }
  });
});
