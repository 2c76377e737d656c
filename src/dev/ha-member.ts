/**
 * One instance of the HA cluster (ha-cluster.ts): its id, service and metrics port, the
 * variables it runs with, and every incarnation of it (a restart keeps id, port and env;
 * the output of each incarnation stays readable).
 */
import type { Venue } from './venue/venue.js';
import { type ServiceProcess, spawnService } from './cli-process.js';
import { GaveUp, waitFor } from './redis-process.js';

export type HaService = 'brain' | 'reconcile';

export type HaRedis =
  | { url: string }
  | { sentinels: string; masterName: string; password?: string; sentinelPassword?: string };

export interface HaClusterOptions {
  brains: number;
  engines: number;
  redis: HaRedis;
  /** Default BTCUSDT, ETHUSDT, each at a small long position. */
  positions?: Readonly<Record<string, string>>;
  /** POSGUARD_LEASE_MS (default 3000, the service default). */
  leaseMs?: number;
  /** P34_LOOP_CADENCE_SEC (default 0.2). */
  cadenceSec?: number;
  /** P33_POLL_SEC (default 0.1). */
  pollSec?: number;
  /** Extra variables for every instance (win over the cluster's). */
  env?: Readonly<Record<string, string>>;
  /** Extra variables for one instance, by id (`reconcile-1`…; win over `env`), e.g. its own REDIS_URL. */
  memberEnv?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** The CLI to run; default: a private snapshot of the working tree's build. */
  cli?: string;
  /**
   * Map Redis connections to instances (`ownerOf`; default true). It reads /proc for every
   * instance every 100 ms, synchronously: latency benchmarks that do not need `ownerOf`
   * turn it off so it does not stall their event loop.
   */
  ownerScan?: boolean;
  /** Default `ha<hex>`: unique per run. */
  keyPrefix?: string;
}

export interface HaMember {
  readonly id: string;
  readonly service: HaService;
  readonly metricsPort: number;
  /** The current incarnation (the last one started). */
  readonly process: ServiceProcess;
  /** Every incarnation, oldest first (their output stays readable). */
  readonly incarnations: readonly ServiceProcess[];
  readonly paused: boolean;
}

export const HA_API_KEY = 'ha-cluster-key';
export const HA_API_SECRET = 'ha-cluster-secret';
export const START_TIMEOUT_MS = 20_000;
const STARTED = /position state brain started|reconcile engine started/;

export class Member implements HaMember {
  readonly incarnations: ServiceProcess[] = [];
  paused = false;

  constructor(
    readonly id: string,
    readonly service: HaService,
    readonly metricsPort: number,
    private readonly env: Record<string, string>,
    private readonly cli: string,
  ) {}

  get process(): ServiceProcess {
    const current = this.incarnations.at(-1);
    if (current === undefined) throw new Error(`${this.id} was never started`);
    return current;
  }

  start(): ServiceProcess {
    if (this.incarnations.at(-1)?.running()) throw new Error(`${this.id} is still running`);
    const proc = spawnService(this.id, [this.service], this.env, this.cli);
    this.incarnations.push(proc);
    this.paused = false;
    return proc;
  }

  /** Its start line, or the reason it has none. */
  async started(): Promise<void> {
    const proc = this.process;
    await waitFor(`${this.id} to start`, START_TIMEOUT_MS, () => {
      if (proc.lines.some((l) => STARTED.test(l.text))) return Promise.resolve();
      if (!proc.running()) throw new GaveUp(`${this.id} exited:\n${proc.output()}`);
      throw new Error('no start line yet');
    });
  }
}

/** The variables every instance shares (its own id and port come on top). */
export function clusterEnv(
  o: HaClusterOptions,
  keyPrefix: string,
  venue: Venue,
  symbols: readonly string[],
): Record<string, string> {
  const redis: Record<string, string> =
    'url' in o.redis
      ? { REDIS_URL: o.redis.url }
      : {
          REDIS_SENTINELS: o.redis.sentinels,
          REDIS_SENTINEL_MASTER: o.redis.masterName,
          ...(o.redis.password === undefined ? {} : { REDIS_PASSWORD: o.redis.password }),
          ...(o.redis.sentinelPassword === undefined
            ? {}
            : { REDIS_SENTINEL_PASSWORD: o.redis.sentinelPassword }),
        };
  return {
    ...redis,
    KEY_PREFIX: keyPrefix,
    POSGUARD_LEASE_MS: String(o.leaseMs ?? 3000),
    P33_ALLOWLIST: symbols.join(','),
    P34_ALLOWLIST: symbols.join(','),
    P33_POLL_SEC: String(o.pollSec ?? 0.1),
    P33_STALE_THRESHOLD_SEC: '3',
    P33_COOLDOWN_SEC: '0',
    P33_USER_STREAM: 'false',
    P34_LOOP_CADENCE_SEC: String(o.cadenceSec ?? 0.2),
    P34_EXCHANGE_FRESHNESS_SEC: '3',
    P34_HOLD_TTL_SEC: '30',
    P33_LOG_LEVEL: 'info',
    P34_LOG_LEVEL: 'info',
    BINANCE_BASE_URL: venue.baseUrl,
    BINANCE_WS_URL: venue.wsUrl,
    BINANCE_API_KEY: HA_API_KEY,
    BINANCE_API_SECRET: HA_API_SECRET,
    BINANCE_TESTNET: 'true',
    BINANCE_TIMEOUT_SEC: '2',
    ...o.env,
  };
}
