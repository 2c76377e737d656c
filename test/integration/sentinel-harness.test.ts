/**
 * The Sentinel test harness (SPEC §11, issue 12): src/dev/redis-sentinel.ts starts a master,
 * a replica and three sentinels on free ports in one temporary directory, fails the master
 * over on request or after a kill, and leaves nothing behind.
 */
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startSentinelSetup,
  type RedisAddress,
  type SentinelSetup,
} from '../../src/dev/redis-sentinel.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Sentinel harness', () => {
  let setup: SentinelSetup | undefined;
  const clients: Redis[] = [];

  const client = (address: RedisAddress): Redis => {
    const redis = new Redis({
      host: address.host,
      port: address.port,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
    });
    redis.on('error', () => undefined);
    clients.push(redis);
    return redis;
  };
  const started = (): SentinelSetup => {
    if (setup === undefined) throw new Error('the set-up did not start');
    return setup;
  };
  const role = async (address: RedisAddress): Promise<unknown[]> =>
    (await client(address).call('ROLE')) as unknown[];

  beforeAll(async () => {
    setup = await startSentinelSetup();
  });
  afterAll(async () => {
    for (const redis of clients) redis.disconnect();
    await setup?.stop();
  });

  it('starts a master, a replica and three sentinels that agree on the master', async () => {
    const s = started();
    expect(s.dataNodes).toHaveLength(2);
    expect(s.sentinels).toHaveLength(3);
    const ports = [...s.dataNodes, ...s.sentinels].map((node) => node.port);
    expect(new Set(ports).size).toBe(5);
    expect(ports).not.toContain(6379);
    expect(ports).not.toContain(26379);
    expect(s.sentinelList).toBe(s.sentinels.map((n) => `127.0.0.1:${n.port}`).join(','));

    const master = await s.masterAddress();
    expect(master).toEqual({ host: '127.0.0.1', port: s.dataNodes[0]?.port });
    const replica = { host: '127.0.0.1', port: s.dataNodes[1]?.port ?? 0 };
    expect((await role(master))[0]).toBe('master');
    expect((await role(replica)).slice(0, 3)).toEqual(['slave', '127.0.0.1', master.port]);
  });

  it('replicates a write on the master to the replica, which refuses writes', async () => {
    const s = started();
    const master = client(await s.masterAddress());
    const replica = client({ host: '127.0.0.1', port: s.dataNodes[1]?.port ?? 0 });
    await master.set('harness:replicated', 'yes');
    expect(
      await until('replicated', async () => (await replica.get('harness:replicated')) ?? undefined),
    ).toBe('yes');
    await expect(replica.set('harness:on-replica', 'x')).rejects.toThrow(/^READONLY/);
  });

  it('fails over on request: the sentinels agree on the new master, the old one replicates it', async () => {
    const s = started();
    const before = await s.masterAddress();
    const after = await s.failover();
    expect(after.port).not.toBe(before.port);
    expect(await s.masterAddress()).toEqual(after);
    expect((await role(after))[0]).toBe('master');
    expect((await role(before)).slice(0, 3)).toEqual(['slave', '127.0.0.1', after.port]);

    await client(after).set('harness:after-failover', 'new');
    const old = client(before);
    expect(
      await until(
        'replicated back',
        async () => (await old.get('harness:after-failover')) ?? undefined,
      ),
    ).toBe('new');
  });

  it('promotes the replica when the master is killed', async () => {
    const s = started();
    const before = await s.masterAddress();
    const killed = s.dataNodes.find((node) => node.port === before.port);
    const after = await s.killMaster();
    expect(after.port).not.toBe(before.port);
    expect(killed?.running).toBe(false);
    expect(isAlive(killed?.pid ?? -1)).toBe(false);
    expect(await s.masterAddress()).toEqual(after);
    expect((await role(after))[0]).toBe('master');
    expect(await client(after).set('harness:after-kill', 'ok')).toBe('OK');
  });

  it('stops every process it started (checked by PID) and removes its directory', async () => {
    const s = started();
    const pids = s.pids();
    expect(pids).toHaveLength(5);
    expect(pids.filter(isAlive)).toHaveLength(4); // the killed master is gone already
    expect(existsSync(s.dir)).toBe(true);
    await s.stop();
    setup = undefined;
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(s.dir)).toBe(false);
  });
});

describe('Sentinel harness, failed start', () => {
  it('kills what it started and removes its directory, naming the sentinel complaint', async () => {
    const error = await startSentinelSetup({ downAfterMs: 0 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/sentinel.*(zero|negative)/is);
    const dir = /directory (\S+) removed/.exec(error?.message ?? '')?.[1];
    const pids = (/PIDs ([\d, ]+)\)/.exec(error?.message ?? '')?.[1] ?? '').split(', ').map(Number);
    expect(dir).toBeDefined();
    expect(existsSync(dir ?? '')).toBe(false);
    expect(pids).toHaveLength(5); // master and replica started before the sentinels refused
    expect(pids.every((pid) => pid > 0)).toBe(true);
    expect(pids.filter(isAlive)).toEqual([]);
  });
});
