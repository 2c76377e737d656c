/** lease_acquire, lease_renew, lease_release and the fence check: encode and decode, no Redis. */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildKeys } from '../../../src/redis/keys.js';
import { decodeFenced, epochArg, FENCE_CHECK_LUA } from '../../../src/redis/scripts/fencing.js';
import { leaseAcquire } from '../../../src/redis/scripts/lease-acquire.js';
import { leaseRelease } from '../../../src/redis/scripts/lease-release.js';
import { leaseRenew } from '../../../src/redis/scripts/lease-renew.js';
import { commandArgs, decodeReply, type ScriptSpec } from '../../../src/redis/scripts/script.js';

const keys = buildKeys('q');
const invalid: unknown = expect.objectContaining({ code: 'SCRIPT_REPLY_INVALID' });
const usage: unknown = expect.objectContaining({ code: 'USAGE' });

describe('lease scripts encode', () => {
  it('lease_acquire: lease, epoch and fence in KEYS; instance and lease_ms in one JSON object', () => {
    const call = leaseAcquire.encode({
      keys,
      role: 'reconcile',
      instanceId: 'h1:42',
      leaseMs: 3000,
    });
    expect(call.keys).toEqual([
      'q:posguard:lease:reconcile',
      'q:posguard:epoch:reconcile',
      'q:posguard:fence:reconcile',
    ]);
    expect(call.argv).toEqual({ instance: 'h1:42', lease_ms: 3000 });
    expect(commandArgs(leaseAcquire, call)).toEqual([...call.keys, JSON.stringify(call.argv)]);
  });
  it('lease_renew and lease_release: lease and fence in KEYS, the epoch in ARGV', () => {
    const renew = leaseRenew.encode({
      keys,
      role: 'brain-poller',
      instanceId: 'h1:42',
      epoch: 7,
      leaseMs: 3000,
    });
    expect(renew.keys).toEqual(['q:posguard:lease:brain-poller', 'q:posguard:fence:brain-poller']);
    expect(renew.argv).toEqual({ instance: 'h1:42', epoch: 7, lease_ms: 3000 });
    const release = leaseRelease.encode({
      keys,
      role: 'brain-poller',
      instanceId: 'h1:42',
      epoch: 7,
    });
    expect(release.keys).toEqual(renew.keys);
    expect(release.argv).toEqual({ instance: 'h1:42', epoch: 7 });
  });
  it('refuses a bad instance id, epoch, lease length or role before anything is sent', () => {
    const base = { keys, role: 'reconcile' as const, instanceId: 'h1:42', leaseMs: 3000, epoch: 1 };
    expect(() => leaseAcquire.encode({ ...base, instanceId: 'a b' })).toThrow(usage);
    expect(() => leaseAcquire.encode({ ...base, instanceId: '' })).toThrow(usage);
    expect(() => leaseAcquire.encode({ ...base, instanceId: 'x'.repeat(129) })).toThrow(usage);
    expect(() => leaseAcquire.encode({ ...base, leaseMs: 0 })).toThrow(usage);
    expect(() => leaseAcquire.encode({ ...base, leaseMs: 1.5 })).toThrow(usage);
    for (const epoch of [0, -1, 1.5, Number.NaN, 2 ** 53])
      expect(() => leaseRenew.encode({ ...base, epoch })).toThrow(usage);
    expect(() => leaseRelease.encode({ ...base, epoch: 0 })).toThrow(usage);
    expect(() => leaseAcquire.encode({ ...base, role: 'gate' as unknown as 'reconcile' })).toThrow(
      /invalid leader role/,
    );
    expect(epochArg({ name: 'x' }, 9)).toBe(9);
  });
});

describe('lease scripts decode', () => {
  it('lease_acquire: acquired, held (also without expiry), wrong_type', () => {
    expect(decodeReply(leaseAcquire, '{"status":"acquired","epoch":3}')).toEqual({
      status: 'acquired',
      epoch: 3,
    });
    expect(decodeReply(leaseAcquire, '{"status":"held","holder":"b:1","ttl_ms":-1}')).toEqual({
      status: 'held',
      holder: 'b:1',
      ttl_ms: -1,
    });
    expect(decodeReply(leaseAcquire, '{"status":"wrong_type","key":"k","found":"list"}')).toEqual({
      status: 'wrong_type',
      key: 'k',
      found: 'list',
    });
  });
  it('lease_renew: renewed, fenced (fence null = unreadable), lost (holder null = gone)', () => {
    expect(decodeReply(leaseRenew, '{"status":"renewed"}')).toEqual({ status: 'renewed' });
    expect(decodeReply(leaseRenew, '{"status":"fenced","fence":4,"epoch":3}')).toEqual({
      status: 'fenced',
      fence: 4,
      epoch: 3,
    });
    expect(decodeReply(leaseRenew, '{"status":"fenced","fence":null,"epoch":3}')).toEqual({
      status: 'fenced',
      fence: null,
      epoch: 3,
    });
    expect(decodeReply(leaseRenew, '{"status":"lost","holder":null,"fence":3}')).toEqual({
      status: 'lost',
      holder: null,
      fence: 3,
    });
    expect(decodeReply(leaseRenew, '{"status":"lost","holder":"b:1","fence":3}')).toEqual({
      status: 'lost',
      holder: 'b:1',
      fence: 3,
    });
  });
  it('lease_release: released, not_holder, fenced', () => {
    expect(decodeReply(leaseRelease, '{"status":"released"}')).toEqual({ status: 'released' });
    expect(decodeReply(leaseRelease, '{"status":"not_holder","holder":"b:1","fence":5}')).toEqual({
      status: 'not_holder',
      holder: 'b:1',
      fence: 5,
    });
    expect(decodeReply(leaseRelease, '{"status":"fenced","fence":5,"epoch":4}')).toEqual({
      status: 'fenced',
      fence: 5,
      epoch: 4,
    });
  });
  it('an unknown status, another script’s status or a malformed reply is SCRIPT_REPLY_INVALID', () => {
    const bad: [ScriptSpec<never, unknown>, unknown][] = [
      [leaseAcquire, '{"status":"OK"}'],
      [leaseAcquire, '{"status":"acquired"}'],
      [leaseAcquire, '{"status":"acquired","epoch":0}'],
      [leaseAcquire, '{"status":"acquired","epoch":"3"}'],
      [leaseAcquire, '{"status":"held","holder":"b"}'],
      [leaseAcquire, '{"status":"held","holder":"b","ttl_ms":-2}'],
      [leaseAcquire, '{"status":"renewed"}'],
      [leaseRenew, '{"status":"released"}'],
      [leaseRenew, '{"status":"fenced","fence":"4","epoch":3}'],
      [leaseRenew, '{"status":"fenced","fence":4}'],
      [leaseRenew, '{"status":"lost","holder":1,"fence":3}'],
      [leaseRenew, '{"status":"lost","holder":"b"}'],
      [leaseRenew, '{"status":"wrong_type","key":"k"}'],
      [leaseRelease, '{"status":"lost","holder":"b","fence":1}'],
      [leaseRelease, 'released'],
      [leaseRelease, null],
    ];
    for (const [spec, reply] of bad) expect(() => decodeReply(spec, reply)).toThrow(invalid);
  });
  it('decodeFenced passes other statuses through as null', () => {
    expect(decodeFenced({ name: 'x' }, { status: 'written' })).toBeNull();
  });
});

describe('the fence check block (SPEC §11)', () => {
  const lua = (file: string): string =>
    readFileSync(new URL(`../../../src/redis/lua/${file}`, import.meta.url), 'utf8');
  /** Every script that writes as a role's leader (SPEC §11), and the lease scripts. */
  const FENCED = [
    'lease_renew.lua',
    'lease_release.lua',
    // role reconcile
    'reconcile_commit.lua',
    'reconcile_steady.lua',
    'reconcile_heartbeat.lua',
    // role brain-poller
    'brain_write_snapshots.lua',
    'brain_write_lot_sizes.lua',
  ];
  const WRITES = ["'PEXPIRE'", "'DEL'", "'SET'", "'HSET'", "'XADD'", "'PUBLISH'"];
  it('is verbatim in every script that writes as a role’s leader, after the type checks and before the first write', () => {
    for (const file of FENCED) {
      const source = lua(file);
      expect(source.split(FENCE_CHECK_LUA).length - 1, `${file}: one verbatim copy`).toBe(1);
      const block = source.indexOf(FENCE_CHECK_LUA);
      // The fence key is type-checked (TYPE of KEYS[…] or of fence_key) before the block.
      expect(source.indexOf("redis.call('TYPE'"), file).toBeGreaterThan(0);
      expect(source.indexOf("redis.call('TYPE'"), file).toBeLessThan(block);
      expect(source.lastIndexOf("redis.call('TYPE'", block), file).toBeGreaterThan(0);
      const firstWrite = Math.min(...WRITES.map((w) => source.indexOf(w)).filter((i) => i >= 0));
      expect(block, file).toBeLessThan(firstWrite);
    }
    const fixture = readFileSync(
      new URL('../../ha/fixtures/fenced_write.lua', import.meta.url),
      'utf8',
    );
    expect(fixture.includes(FENCE_CHECK_LUA), 'test/ha/fixtures/fenced_write.lua').toBe(true);
  });
  it('no other script carries a copy, or a fence key, unnoticed', () => {
    const dir = new URL('../../../src/redis/lua/', import.meta.url);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.lua'))) {
      const source = lua(file);
      const fenced = source.includes('fence_key') || source.includes(FENCE_CHECK_LUA);
      expect(fenced, `${file}: fenced scripts are listed in FENCED`).toBe(FENCED.includes(file));
    }
  });
  it('is written out in docs/architecture.md', () => {
    const doc = readFileSync(new URL('../../../docs/architecture.md', import.meta.url), 'utf8');
    const inList = FENCE_CHECK_LUA.replace(/^/gm, '  '); // a code block inside a list item
    expect(doc.includes(inList), 'the block in docs/architecture.md').toBe(true);
  });
});
