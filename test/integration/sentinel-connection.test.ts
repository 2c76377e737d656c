/**
 * Connections made from the configuration follow the master through Redis Sentinel
 * (SPEC §11): a forced failover, a master demoted under an open connection (READONLY), a
 * killed master. `onMasterSwitch` fires once per switch. Real set-up: src/dev/redis-sentinel.ts
 * with a data password and a sentinel password, as production would run it.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type RedisConfig } from '../../src/config/config.js';
import { startSentinelSetup, type SentinelSetup } from '../../src/dev/redis-sentinel.js';
import {
  createRedis,
  onMasterSwitch,
  waitForReady,
  type MasterSwitch,
} from '../../src/redis/connection.js';

const PASSWORD = 'data-pw-Q7x';
const SENTINEL_PASSWORD = 'sentinel-pw-R2k';
const MASTER = 'posguard-test';

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = Date.now() + 15_000;
  let last = '';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within 15 s (${last})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The port of the server this connection is on, as the server itself reports it. */
async function serverPort(redis: Redis): Promise<number> {
  const reply = await redis.config('GET', 'port');
  return Number(reply[1]);
}

describe('connections through Redis Sentinel', () => {
  let setup: SentinelSetup | undefined;
  let config: RedisConfig;
  let redis: Redis | undefined;
  const switches: MasterSwitch[] = [];
  const others: Redis[] = [];

  const started = (): SentinelSetup => {
    if (setup === undefined) throw new Error('the set-up did not start');
    return setup;
  };
  const connection = (): Redis => {
    if (redis === undefined) throw new Error('no connection');
    return redis;
  };
  const direct = (port: number): Redis => {
    const client = new Redis({
      port,
      host: '127.0.0.1',
      password: PASSWORD,
      maxRetriesPerRequest: 1,
    });
    client.on('error', () => undefined);
    others.push(client);
    return client;
  };
  const addressOf = (port: number): string => `127.0.0.1:${port}`;

  /** A write through the connection lands on `port` (retried while the connection moves). */
  const writeLandsOn = (port: number, key: string): Promise<true> =>
    until(`a write on ${port}`, async () => {
      await connection().set(key, String(port));
      return (await serverPort(connection())) === port ? true : undefined;
    });

  beforeAll(async () => {
    setup = await startSentinelSetup({
      masterName: MASTER,
      password: PASSWORD,
      sentinelPassword: SENTINEL_PASSWORD,
    });
    config = loadConfig({
      REDIS_SENTINELS: setup.sentinelList,
      REDIS_SENTINEL_MASTER: MASTER,
      REDIS_PASSWORD: PASSWORD,
      REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
    }).redis;
    redis = createRedis(config, { name: 'posguard-sentinel-test' });
    redis.on('error', () => undefined);
    onMasterSwitch(redis, (change) => switches.push(change));
  });
  afterAll(async () => {
    redis?.disconnect();
    for (const client of others) client.disconnect();
    await setup?.stop();
  });

  it('reaches the master the sentinels name, with the passwords from the configuration', async () => {
    await waitForReady(connection());
    const master = await started().masterAddress();
    expect(await serverPort(connection())).toBe(master.port);
    expect(await connection().set('sentinel:first', 'on-master')).toBe('OK');
    expect(await direct(master.port).get('sentinel:first')).toBe('on-master');
  });

  it('does not count a reconnect to the same master as a switch', async () => {
    const master = await started().masterAddress();
    let readies = 0;
    const onReady = (): void => {
      readies += 1;
    };
    connection().on('ready', onReady);
    const admin = direct(master.port);
    const clients = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'normal'));
    const id = /id=(\d+) .*name=posguard-sentinel-test /.exec(clients)?.[1];
    expect(id).toBeDefined();
    await admin.call('CLIENT', 'KILL', 'ID', id ?? '');
    await until('a reconnect', () => (readies > 0 ? true : undefined));
    connection().off('ready', onReady);
    expect(await serverPort(connection())).toBe(master.port);
    expect(switches).toEqual([]);
  });

  it('follows a forced failover: the next writes land on the new master', async () => {
    const before = await started().masterAddress();
    const after = await started().failover();
    await writeLandsOn(after.port, 'sentinel:after-failover');
    expect(await direct(after.port).get('sentinel:after-failover')).toBe(String(after.port));
    expect(switches).toEqual([{ from: addressOf(before.port), to: addressOf(after.port) }]);
  });

  it('does not stay on a master demoted under it: READONLY fails that write and moves the connection', async () => {
    const s = started();
    const demoted = await s.masterAddress();
    const promoted = s.dataNodes.find((node) => node.port !== demoted.port)?.port ?? 0;
    expect(await serverPort(connection())).toBe(demoted.port);
    let closed = false;
    const readyOn: number[] = [];
    const onReady = (): number => readyOn.push(connection().stream.remotePort ?? -1);
    connection().once('close', () => {
      closed = true;
    });
    connection().on('ready', onReady);

    // demoted by hand (an operator, a managed service): unlike a sentinel's failover this
    // kills no client, so the connection is still open on what is now a replica
    await direct(promoted).call('REPLICAOF', 'NO', 'ONE');
    await direct(demoted.port).call('REPLICAOF', '127.0.0.1', String(promoted));
    await expect(connection().set('sentinel:on-replica', 'x')).rejects.toThrow(/^READONLY/);

    await until('the connection to close', () => (closed ? true : undefined));
    // it left on the READONLY reply: the sentinels still name the demoted server (they
    // notice a master that says "slave" only after down-after + 2 INFO periods)
    expect(await s.masterAddress()).toEqual(demoted);
    await writeLandsOn(promoted, 'sentinel:after-readonly');
    connection().off('ready', onReady);
    // and it was never ready on the demoted server again (its ready check wants a master)
    expect(readyOn).toContain(promoted);
    expect(readyOn.filter((port) => port !== promoted)).toEqual([]);
    expect(await direct(demoted.port).get('sentinel:on-replica')).toBeNull();
    expect(switches.slice(1)).toEqual([{ from: addressOf(demoted.port), to: addressOf(promoted) }]);
  });

  it('follows a killed master to the promoted replica while a sentinel hangs', async () => {
    const s = started();
    // the first sentinel it asks accepts connections but never answers (SIGSTOP)
    const hung = s.sentinels[0];
    if (hung === undefined) throw new Error('no sentinel');
    s.pause(hung);
    try {
      const before = await s.masterAddress();
      const after = await s.killMaster();
      await writeLandsOn(after.port, 'sentinel:after-kill');
      expect(connection().status).toBe('ready');
      expect(switches).toHaveLength(3);
      expect(switches[2]).toEqual({ from: addressOf(before.port), to: addressOf(after.port) });
    } finally {
      s.resume(hung);
    }
  });
});
