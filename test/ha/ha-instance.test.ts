/**
 * HaInstance, the services' part in SPEC §11, on a real redis-server it can kill: the HA
 * metrics of leader and standby, a fenced write counted each time and logged once per
 * term, lease-call failures logged once per outage (not once per round), stop releases.
 */
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../src/dev/redis-server.js';
import { waitForReady } from '../../src/redis/connection.js';
import { HaInstance } from '../../src/redis/ha/ha-instance.js';
import { buildKeys } from '../../src/redis/keys.js';
import { captureLogs, type CapturedLogs } from '../helpers/logs.js';
import { uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const ROLE = 'reconcile' as const;

async function metric(registry: Registry, name: string): Promise<number | undefined> {
  const found = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (found?.values ?? []) as { value: number; labels: Record<string, string> }[];
  return values.find((v) => v.labels.role === ROLE)?.value;
}

describe('HaInstance (real redis-server)', () => {
  let server: EmbeddedRedis;
  const conns: Redis[] = [];
  const instances: HaInstance[] = [];
  afterAll(async () => {
    for (const i of instances) await i.stop();
    for (const c of conns) c.disconnect();
    await server?.stop();
  });

  const make = async (
    id: string,
    keys: ReturnType<typeof buildKeys>,
  ): Promise<{ ha: HaInstance; registry: Registry; logs: CapturedLogs; elected: number[] }> => {
    const redis = new Redis(server.url, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: () => 50,
    });
    redis.on('error', () => undefined);
    conns.push(redis);
    await waitForReady(redis);
    const registry = new Registry();
    const logs = captureLogs('debug', id);
    const elected: number[] = [];
    const ha = new HaInstance({
      redis,
      keys,
      service: 'reconcile',
      instanceId: id,
      roles: [ROLE],
      leaseMs: 300,
      registry,
      logger: logs.logger,
      handlers: { onElected: (_r, epoch) => elected.push(epoch), onLost: () => undefined },
    });
    instances.push(ha);
    return { ha, registry, logs, elected };
  };

  it('leader and standby metrics; a fenced write counted each time, logged once, the term ends', async () => {
    server = await startEmbeddedRedis();
    const keys = buildKeys(uniquePrefix('hai'));
    const a = await make('host-a:1', keys);
    const b = await make('host-b:2', keys);
    // every role at 0 from the start (increase() sees the first change)
    expect(await metric(b.registry, 'posguard_leader')).toBe(0);
    expect(await metric(b.registry, 'posguard_lease_transitions_total')).toBe(0);
    expect(await metric(b.registry, 'posguard_fenced_writes_total')).toBe(0);
    await a.ha.start();
    await b.ha.start();
    expect(a.ha.term(ROLE).epoch()).not.toBeNull();
    expect(b.ha.term(ROLE).epoch()).toBeNull();
    expect(await metric(a.registry, 'posguard_leader')).toBe(1);
    expect(await metric(a.registry, 'posguard_lease_transitions_total')).toBe(1);
    expect(await metric(b.registry, 'posguard_leader')).toBe(0);

    const epoch = a.elected[0] as number;
    const term = a.ha.term(ROLE);
    term.fenced({ status: 'fenced', fence: epoch + 1, epoch });
    term.fenced({ status: 'fenced', fence: epoch + 1, epoch });
    expect(await metric(a.registry, 'posguard_fenced_writes_total')).toBe(2);
    expect(a.logs.matching('write refused by the fence')).toHaveLength(1);
    expect(term.epoch()).toBeNull();
    expect(await metric(a.registry, 'posguard_leader')).toBe(0);
    expect(a.logs.matching('no longer leading reconcile')[0]).toMatchObject({ reason: 'fenced' });
  });

  it('lease calls failing during an outage: one line, then one when they answer again', async () => {
    const keys = buildKeys(uniquePrefix('hai'));
    const c = await make('host-c:3', keys);
    await c.ha.start();
    await waitFor(() => c.elected.length === 1);
    await server.kill();
    // many rounds (every 100 ms) fail meanwhile
    await waitFor(() => c.logs.matching('no longer leading reconcile').length === 1);
    await new Promise((r) => setTimeout(r, 600));
    await server.restart();
    await waitFor(() => c.elected.length === 2, 10_000);
    expect(c.logs.matching('lease calls failing')).toHaveLength(1);
    expect(c.logs.matching('lease calls answered again')).toHaveLength(1);
    expect(c.logs.matching('no longer leading reconcile')[0]).toMatchObject({ reason: 'expired' });
  });
});
