/**
 * The judgement behind `posguard status`/`doctor`'s instances and leaders (SPEC §11), without
 * Redis: reads as the reader hands them in, one case per thing an operator must be told.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type HaKeysRead,
  type KeyRead,
  type PresenceKeyRead,
  type RoleKeysRead,
  epochValue,
  judgeHa,
  nothingToShow,
} from '../../src/domain/ha-state.js';
import type { LeaderRole } from '../../src/domain/leadership.js';
import { encodePresence, presenceRecord, type Leadership } from '../../src/domain/presence.js';
import { assertProperty } from '../helpers/property.js';

const P = 'quantum:posguard';
const LEASE_MS = 3000;
const NOW = 1_767_000_100_000;
const CLOCK = { leaseMs: LEASE_MS, nowMs: NOW };
const missing: KeyRead = { kind: 'missing' };
const str = (value: string, ttlMs: number | null = null): KeyRead => ({
  kind: 'string',
  value,
  ttlMs,
});

function presence(
  service: string,
  id: string,
  leaderOf: Leadership[] = [],
  roles: LeaderRole[] = ['reconcile'],
  ttlMs: number | null = 9000,
): PresenceKeyRead {
  const record = presenceRecord(
    { service, id, roles, version: '0.1.0', started_ms: 1_767_000_000_000 },
    leaderOf,
  );
  return raw(`${service}:${id}`, str(encodePresence(record), ttlMs));
}

const raw = (suffix: string, read: KeyRead): PresenceKeyRead => ({
  key: `${P}:instance:${suffix}`,
  suffix,
  read,
});

function role(
  name: LeaderRole,
  lease: KeyRead = missing,
  epoch: KeyRead = missing,
  fence: KeyRead = missing,
): RoleKeysRead {
  return {
    role: name,
    lease: { key: `${P}:lease:${name}`, read: lease },
    epoch: { key: `${P}:epoch:${name}`, read: epoch },
    fence: { key: `${P}:fence:${name}`, read: fence },
  };
}

const read = (presenceReads: PresenceKeyRead[], roles: RoleKeysRead[]): HaKeysRead => ({
  presence: presenceReads,
  roles,
  truncated: false,
});

/** A healthy reconcile role: host-a leads at epoch 7, host-b stands by. */
const healthy = (): PresenceKeyRead[] => [
  presence('reconcile', 'host-a:1', [{ role: 'reconcile', epoch: 7 }]),
  presence('reconcile', 'host-b:2'),
];
const led = (): RoleKeysRead => role('reconcile', str('host-a:1', 2200), str('7'), str('7'));

describe('judgeHa: roles', () => {
  it('leader: the lease names an instance whose record claims the role at the fence epoch', () => {
    const state = judgeHa(read(healthy(), [led(), role('brain-poller')]), CLOCK);
    expect(state.findings).toEqual([]);
    expect(state.roles[0]).toEqual({
      role: 'reconcile',
      state: 'leader',
      problems: [],
      holder: 'host-a:1',
      lease_ttl_ms: 2200,
      lease_age_ms: 800,
      epoch: 7,
      fence: 7,
      leader_epoch: 7,
      campaigners: ['host-a:1', 'host-b:2'],
      claims: [{ id: 'host-a:1', epoch: 7 }],
    });
    expect(state.roles[1]).toMatchObject({ role: 'brain-poller', state: 'none', holder: null });
  });

  it('the lease age is unknown without the lease length, or when the PTTL exceeds it', () => {
    expect(
      judgeHa(read(healthy(), [led()]), { leaseMs: null, nowMs: NOW }).roles[0]?.lease_age_ms,
    ).toBeNull();
    expect(
      judgeHa(read(healthy(), [led()]), { leaseMs: 1000, nowMs: NOW }).roles[0]?.lease_age_ms,
    ).toBeNull();
  });

  it('none with campaigners: FAIL "no leader", but the role itself is none, not a problem', () => {
    const state = judgeHa(
      read([presence('reconcile', 'host-b:2')], [role('reconcile', missing, str('7'), str('7'))]),
      CLOCK,
    );
    expect(state.roles[0]).toMatchObject({ state: 'none', problems: [], epoch: 7, fence: 7 });
    expect(state.findings).toEqual([
      expect.objectContaining({
        level: 'fail',
        subject: 'reconcile',
        text: 'no leader, while 1 instance campaign for it (host-b:2)',
      }),
    ]);
  });

  it('a lease naming an instance without a presence record: WARN, role problem', () => {
    const state = judgeHa(
      read(
        [presence('reconcile', 'host-b:2')],
        [role('reconcile', str('ghost:9', 2000), str('3'), str('3'))],
      ),
      CLOCK,
    );
    expect(state.roles[0]?.state).toBe('problem');
    expect(state.roles[0]?.problems).toEqual([
      expect.stringContaining('the lease names ghost:9, which has no presence record'),
    ]);
    expect(state.findings.map((f) => f.level)).toEqual(['warn']);
  });

  it('a lease value that is no instance id is quoted with its control characters escaped', () => {
    const state = judgeHa(
      read([], [role('reconcile', str('\u001b[31mx\u009b', 2000), str('1'), str('1'))]),
      CLOCK,
    );
    const [finding] = state.findings;
    expect(finding?.text).toContain(
      'the lease names "\\u001b[31mx\\u009b", which has no presence record',
    );
    const shown = state.findings.map((f) => f.text + f.fix).join('');
    expect(shown.includes('\u001b') || shown.includes('\u009b')).toBe(false);
  });

  it('a stale claim below the fence and two claimants: WARN each, the role is a problem', () => {
    const state = judgeHa(
      read(
        [
          presence('reconcile', 'host-a:1', [{ role: 'reconcile', epoch: 7 }]),
          presence('reconcile', 'host-b:2', [{ role: 'reconcile', epoch: 6 }]),
        ],
        [led()],
      ),
      CLOCK,
    );
    expect(state.roles[0]).toMatchObject({
      state: 'problem',
      holder: 'host-a:1',
      leader_epoch: 7,
      claims: [
        { id: 'host-a:1', epoch: 7 },
        { id: 'host-b:2', epoch: 6 },
      ],
    });
    expect(state.findings.map((f) => [f.level, f.text.slice(0, 45)])).toEqual([
      ['warn', 'host-b:2 claims the role at epoch 6, below th'],
      ['warn', '2 instances claim the role (host-a:1@7, host-'],
    ]);
  });

  it('the holder claims an epoch above the fence: the fence was lowered — FAIL, set it back up', () => {
    const state = judgeHa(
      read(
        [presence('reconcile', 'host-a:1', [{ role: 'reconcile', epoch: 9 }])],
        [role('reconcile', str('host-a:1', 2000), str('9'), str('5'))],
      ),
      CLOCK,
    );
    expect(state.roles[0]).toMatchObject({ state: 'problem', leader_epoch: 9, fence: 5 });
    expect(state.findings).toEqual([
      {
        level: 'fail',
        subject: 'reconcile',
        text: 'host-a:1 claims the role at epoch 9, above the fence 5: the fence was lowered, so older leaders can write again',
        fix: `\`redis-cli SET ${P}:fence:reconcile 9\` (or higher); never lower the fence`,
      },
    ]);
  });

  it('a lease without expiry: FAIL, DEL it', () => {
    const state = judgeHa(
      read(healthy(), [role('reconcile', str('host-a:1'), str('7'), str('7'))]),
      CLOCK,
    );
    expect(state.roles[0]).toMatchObject({ state: 'problem', lease_ttl_ms: null });
    expect(state.findings).toEqual([
      {
        level: 'fail',
        subject: 'reconcile',
        text: `the lease ${P}:lease:reconcile (host-a:1) has no expiry: it was written by hand, and blocks the role until it goes`,
        fix: `\`redis-cli DEL ${P}:lease:reconcile\`; an instance takes the lease within lease/3`,
      },
    ]);
  });

  it('epoch or fence holding garbage: FAIL, set to an integer above every epoch seen and the clock', () => {
    const state = judgeHa(
      read(healthy(), [role('reconcile', str('host-a:1', 2000), str('seven'), str('7'))]),
      CLOCK,
    );
    expect(state.roles[0]).toMatchObject({ state: 'problem', epoch: null, fence: 7 });
    expect(state.findings).toEqual([
      {
        level: 'fail',
        subject: 'reconcile',
        text: `the epoch counter ${P}:epoch:reconcile holds "seven", not an integer: nobody can take the lease`,
        fix:
          `\`redis-cli SET ${P}:epoch:reconcile ${NOW + 1}\` — an integer above every epoch ` +
          'handed out; never lower it, never DEL it',
      },
    ]);
    // An epoch above the clock (lease_acquire's max(epoch, fence, TIME) + 1): above that one.
    const ahead = NOW + 5;
    const fence = judgeHa(
      read(
        [presence('reconcile', 'host-a:1', [{ role: 'reconcile', epoch: ahead }])],
        [role('reconcile', str('host-a:1', 2000), str(String(ahead)), str('12 apples'))],
      ),
      CLOCK,
    );
    expect(fence.findings.map((f) => [f.level, f.fix.split(' — ')[0]])).toEqual([
      ['fail', `\`redis-cli SET ${P}:fence:reconcile ${ahead + 1}\``],
    ]);
    expect(fence.findings[0]?.text).toContain('every write of the role is refused');
  });

  it('keys of the wrong type (a hash lease, a list fence): FAIL each, never a crash', () => {
    const state = judgeHa(
      read(healthy(), [
        role('reconcile', { kind: 'wrong_type', found: 'hash' }, str('7'), {
          kind: 'wrong_type',
          found: 'list',
        }),
      ]),
      CLOCK,
    );
    expect(state.roles[0]).toMatchObject({ state: 'problem', holder: null, fence: null });
    expect(state.findings.map((f) => [f.level, f.text])).toEqual([
      ['fail', `the lease ${P}:lease:reconcile is a hash, not a string: nobody can lead`],
      ['fail', `the fence ${P}:fence:reconcile is a list, not a string: nobody can take the lease`],
    ]);
  });

  it('a fence missing under a held lease, or a counter with a TTL: FAIL', () => {
    const noFence = judgeHa(
      read(healthy(), [role('reconcile', str('host-a:1', 2000), str('7'))]),
      CLOCK,
    );
    expect(noFence.findings.map((f) => [f.level, f.text.slice(0, 40)])).toEqual([
      ['fail', `the fence ${P}:fence:reconcile is missing`.slice(0, 40)],
    ]);
    expect(noFence.findings[0]?.fix).toContain(`redis-cli SET ${P}:fence:reconcile ${NOW + 1}`);
    const expiring = judgeHa(
      read(healthy(), [role('reconcile', str('host-a:1', 2000), str('7'), str('7', 60_000))]),
      CLOCK,
    );
    expect(expiring.findings).toEqual([
      expect.objectContaining({ level: 'fail', fix: `\`redis-cli PERSIST ${P}:fence:reconcile\`` }),
    ]);
  });

  it('the lease holder whose record does not claim the role yet: WARN', () => {
    const state = judgeHa(
      read(
        [presence('reconcile', 'host-b:2')],
        [role('reconcile', str('host-b:2', 2900), str('8'), str('8'))],
      ),
      CLOCK,
    );
    expect(state.roles[0]?.state).toBe('problem');
    expect(state.findings.map((f) => [f.level, f.text])).toEqual([
      [
        'warn',
        'host-b:2 holds the lease but its presence record does not claim the role (elected in the last lease/3?)',
      ],
    ]);
  });
});

describe('judgeHa: presence records', () => {
  it('records that do not decode are listed with their problem, never dropped or thrown', () => {
    const state = judgeHa(
      read(
        [
          raw('reconcile:host-c:3', str('{not json', 5000)),
          raw('reconcile:host-d:4', { kind: 'wrong_type', found: 'hash' }),
          raw('brain:host-e:5', str(JSON.stringify({ service: 'brain', id: 'host-e:5' }), 5000)),
          presence('reconcile', 'host-a:1', [], ['reconcile'], null),
          raw('reconcile:host-x:1', presence('reconcile', 'host-a:1').read),
          raw('oops', str('{}', 100)),
        ],
        [role('reconcile'), role('brain-poller')],
      ),
      CLOCK,
    );
    expect(state.instances.map((i) => [i.service, i.id, i.record === null, i.problem])).toEqual([
      ['brain', 'host-e:5', true, 'roles: expected a list of reconcile | brain-poller'],
      ['oops', '', true, 'service: expected ^[a-z][a-z0-9-]{0,31}$'],
      ['reconcile', 'host-a:1', false, 'no TTL: the record outlives its instance'],
      ['reconcile', 'host-c:3', true, 'not JSON'],
      ['reconcile', 'host-d:4', true, 'a hash, not a string'],
      [
        'reconcile',
        'host-a:1',
        false,
        'the record names reconcile:host-a:1, its key reconcile:host-x:1',
      ],
    ]);
    const [onRecords, onRoles] = [
      state.findings.filter((f) => f.subject.includes(':instance:')),
      state.findings.filter((f) => !f.subject.includes(':instance:')),
    ];
    expect(onRecords.map((f) => f.level)).toEqual(Array(6).fill('warn'));
    // The two records that decode campaign for reconcile, and nobody holds its lease.
    expect(onRoles.map((f) => [f.level, f.text])).toEqual([
      ['fail', 'no leader, while 1 instance campaign for it (host-a:1)'],
    ]);
  });

  it('a record that expired between SCAN and the read is left out', () => {
    expect(
      judgeHa(read([raw('reconcile:gone:1', missing)], [role('reconcile')]), CLOCK).instances,
    ).toEqual([]);
  });
});

describe('epochValue and nothingToShow', () => {
  it('reads epochs as lease_acquire.lua does: digits only, at most 14', () => {
    expect(epochValue('7')).toBe(7);
    expect(epochValue('0')).toBe(0);
    expect(epochValue('99999999999999')).toBe(99_999_999_999_999);
    for (const bad of ['', '-1', '1.5', '7 ', 'seven', '1e3', '123456789012345'])
      expect(epochValue(bad)).toBeNull();
  });

  it('nothing to show without records and without any lease, epoch or fence key', () => {
    expect(nothingToShow(read([], [role('reconcile'), role('brain-poller')]))).toBe(true);
    expect(nothingToShow(read([raw('reconcile:gone:1', missing)], [role('reconcile')]))).toBe(true);
    expect(nothingToShow(read([], [role('reconcile', missing, str('3'))]))).toBe(false);
    expect(nothingToShow(read(healthy(), [role('reconcile')]))).toBe(false);
  });
});

describe('judgeHa never throws', () => {
  const keyRead: fc.Arbitrary<KeyRead> = fc.oneof(
    fc.constant(missing),
    fc.record({ kind: fc.constant('wrong_type' as const), found: fc.constantFrom('hash', 'list') }),
    fc.record({
      kind: fc.constant('string' as const),
      value: fc.oneof(fc.string(), fc.json(), fc.constantFrom('host-a:1', '7', '0')),
      ttlMs: fc.option(fc.nat(), { nil: null }),
    }),
  );

  it('for any key contents, with a judgement for every role and every record', () => {
    assertProperty(
      fc.property(
        fc.array(fc.tuple(fc.string(), keyRead), { maxLength: 5 }),
        keyRead,
        keyRead,
        keyRead,
        (records, lease, epoch, fence) => {
          const state = judgeHa(
            read(
              records.map(([suffix, r]) => raw(suffix, r)),
              [role('reconcile', lease, epoch, fence)],
            ),
            CLOCK,
          );
          expect(state.roles).toHaveLength(1);
          expect(state.instances).toHaveLength(
            records.filter(([, r]) => r.kind !== 'missing').length,
          );
          for (const f of state.findings) expect(f.fix.length).toBeGreaterThan(0);
        },
      ),
    );
  });
});
