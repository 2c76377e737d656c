/**
 * A Redis master switch under the reconcile engine (SPEC §11), on a real Sentinel set-up
 * (master, replica, three sentinels): the engine drops its lease at once ("the new master
 * may hold stale ones"), re-elects with a higher epoch on the new master, and its first
 * heartbeat there names that epoch and comes after a full cycle's writes — never before.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { startSentinelSetup, type SentinelSetup } from '../../src/dev/redis-sentinel.js';
import { decodeHeartbeat } from '../../src/domain/reconcile-heartbeat.js';
import { type ReconcileService, startReconcileService } from '../../src/reconcile/service.js';
import { buildKeys } from '../../src/redis/keys.js';
import { captureLogs } from '../helpers/logs.js';
import { uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { ledgerFields, snapshotFields, writeSymbol } from '../reconcile/fixtures.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];

describe('reconcile engine across a Sentinel failover', () => {
  let setup: SentinelSetup | undefined;
  let service: ReconcileService | undefined;
  const clients: Redis[] = [];
  afterAll(async () => {
    await service?.stop();
    for (const c of clients) c.disconnect();
    await setup?.stop();
  }, 30_000);

  const direct = (port: number): Redis => {
    const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };

  it('drops its lease on the switch, re-elects with a higher epoch, and heartbeats only after a full cycle on the new master', async () => {
    setup = await startSentinelSetup();
    const prefix = uniquePrefix('sent');
    const keys = buildKeys(prefix);
    const first = await setup.masterAddress();
    const seed = direct(first.port);
    for (const symbol of SYMBOLS) {
      await writeSymbol(seed, keys, symbol, {
        snapshot: snapshotFields('0.5', Date.now()),
        ledger: ledgerFields('0.5', Date.now() - 60_000),
      });
    }
    const logs = captureLogs('debug', 'reconcile');
    const config = loadConfig({
      REDIS_SENTINELS: setup.sentinelList,
      REDIS_SENTINEL_MASTER: setup.masterName,
      KEY_PREFIX: prefix,
      P34_ALLOWLIST: SYMBOLS.join(','),
      P34_LOOP_CADENCE_SEC: '0.2',
      P34_EXCHANGE_FRESHNESS_SEC: '3600',
      POSGUARD_LEASE_MS: '1500',
    });
    service = await startReconcileService({
      config,
      logger: logs.logger,
      http: false,
      instanceId: 'engine-a:1',
    });
    const beatOn = async (client: Redis) => {
      const raw = await client.get(keys.reconcileHeartbeat);
      const read = decodeHeartbeat(raw);
      if (read.kind !== 'ok' || raw === null) return null;
      return { read, ts: (JSON.parse(raw) as { ts_ms: number }).ts_ms };
    };
    const before = await waitFor(async () => (await beatOn(seed))?.read.leader ?? null);
    expect(before.instance).toBe('engine-a:1');

    const next = await setup.failover();
    const promoted = direct(next.port);
    // The new master's first heartbeat of the new term: named, at the new fence.
    const after = await waitFor(async () => {
      const beat = await beatOn(promoted);
      const fence = Number(await promoted.get(keys.fence('reconcile')));
      return beat?.read.leader &&
        beat.read.leader.epoch > before.epoch &&
        beat.read.leader.epoch === fence
        ? beat
        : null;
    }, 20_000);
    expect(after.read.leader?.instance).toBe('engine-a:1');
    // The heartbeat is the last write of a full cycle: every symbol's state of that cycle
    // (or a later one) is already there.
    for (const symbol of SYMBOLS) {
      const ts = Number(await promoted.hget(keys.reconcileState(symbol), 'ts_ms'));
      expect(ts, symbol).toBeGreaterThanOrEqual(after.ts);
    }
    expect(logs.matching('dropping every lease').length).toBeGreaterThanOrEqual(1);
    const lost = logs.matching('no longer leading reconcile').map((l) => l.reason);
    expect(lost).toContain('dropped');
    const elected = logs.matching('leading reconcile').filter((l) => l.msg === 'leading reconcile');
    expect(elected.length).toBeGreaterThanOrEqual(2);
    // Nothing of the engine failed for good: it was leading again with cycles running.
    await waitFor(async () => ((await beatOn(promoted))?.ts ?? 0) > after.ts);
  }, 90_000);
});
