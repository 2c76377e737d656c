/**
 * A running system for end-to-end scenarios: the simulated venue (in this process), the
 * brain and the reconcile engine each in its own Node process, and a keyspace probe.
 */
import type { Redis } from 'ioredis';
import { decodeLedger } from '../../src/domain/ledger.js';
import { DEFAULT_EPSILON } from '../../src/domain/amount.js';
import { type Keys, buildKeys } from '../../src/redis/keys.js';
import type { Venue } from '../../src/dev/venue/venue.js';
import { benchEnv, benchVenue, harnessClient, waitUntil } from '../environment.js';
import { type KeyspaceProbe, openKeyspaceProbe } from '../keyspace-probe.js';
import { positionFor } from '../seed.js';
import { type ServiceProcess, startServiceProcess } from '../service-process.js';
import type { ScenarioContext } from './context.js';

export interface System {
  venue: Venue;
  keys: Keys;
  prefix: string;
  symbols: readonly string[];
  brain: ServiceProcess | null;
  reconcile: ServiceProcess | null;
  probe: KeyspaceProbe;
  /** The harness's own connections (producer, reader). */
  producer: Redis;
  reader: Redis;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export interface SystemOptions {
  symbols: readonly string[];
  /** Environment overrides for both services (P33_POLL_SEC, P34_LOOP_CADENCE_SEC, …). */
  overrides?: Record<string, string>;
  /** Key pattern (after the prefix) the probe watches, e.g. `:permit:p33:*`. */
  probePattern: string;
  brain?: boolean;
  reconcile?: boolean;
  /** Symbols with a position on the venue (default: positionFor(i)). */
  positionOf?: (i: number) => string;
}

export async function startSystem(
  ctx: ScenarioContext,
  tag: string,
  o: SystemOptions,
): Promise<System> {
  const prefix = `${ctx.prefix}${tag}`;
  const keys = buildKeys(prefix);
  const venue = await benchVenue([...o.symbols]);
  o.symbols.forEach((symbol, i) => {
    const amount = o.positionOf ? o.positionOf(i) : positionFor(i).toFixed();
    if (amount !== '0') venue.control.setPosition(symbol, amount, '100');
  });
  const env = benchEnv(
    { redisUrl: ctx.redisUrl, prefix, symbols: o.symbols, venue },
    o.overrides ?? {},
  );
  const producer = harnessClient(ctx.redisUrl, `bench-${tag}-producer`);
  const reader = harnessClient(ctx.redisUrl, `bench-${tag}-reader`);
  const probe = await openKeyspaceProbe(
    harnessClient(ctx.redisUrl, `bench-${tag}-probe`),
    0,
    `${prefix}${o.probePattern}`,
  );
  const reconcile = o.reconcile === false ? null : await startServiceProcess('reconcile', env);
  const brain = o.brain === false ? null : await startServiceProcess('brain', env);
  return {
    venue,
    keys,
    prefix,
    symbols: o.symbols,
    brain,
    reconcile,
    probe,
    producer,
    reader,
    env,
    stop: async () => {
      await Promise.all([brain?.stop(), reconcile?.stop()]);
      await probe.close();
      producer.disconnect();
      reader.disconnect();
      await venue.close();
    },
  };
}

/** Waits until every symbol has a fresh snapshot, a valid ledger, OK state and no hold, and the heartbeat exists. */
export async function waitForSteadyState(system: System, timeoutMs: number): Promise<void> {
  const { reader, keys, symbols } = system;
  await waitUntil(
    'every symbol reconciled (snapshot, ledger, state OK, no hold, heartbeat)',
    async () => {
      const pipeline = reader.pipeline();
      pipeline.exists(keys.reconcileHeartbeat);
      for (const s of symbols) {
        pipeline.hget(keys.reconcileState(s), 'status');
        pipeline.exists(keys.hold(s));
        pipeline.hgetall(keys.ledger(s));
      }
      const r = (await pipeline.exec()) ?? [];
      if (r[0]?.[1] !== 1) return false;
      return symbols.every((_, i) => {
        const at = 1 + i * 3;
        return (
          r[at]?.[1] === 'OK' &&
          r[at + 1]?.[1] === 0 &&
          decodeLedger((r[at + 2]?.[1] ?? {}) as Record<string, string>, DEFAULT_EPSILON).kind ===
            'ok'
        );
      });
    },
    timeoutMs,
    100,
  );
}
