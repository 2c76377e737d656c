/**
 * Configuration (SPEC §8): read once, validated once, frozen. Every bad variable is
 * reported in one message naming the variable and the form it expects. Seconds accept
 * decimals (LESSONS #14). Components receive only their slice.
 */
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { SYMBOL_RE } from '../domain/identifiers.js';
import { MIN_LEASE_MS, isInstanceId } from '../domain/leadership.js';
import {
  BINANCE_ENVIRONMENTS,
  type BinanceEnvironment,
  resolveBinanceEnvironment,
} from './binance-environments.js';
import { withoutInlineComment } from './env-file.js';
import { readRedisConfig, type RedisConfig } from './redis-config.js';

type Env = Record<string, string | undefined>;

const LOG_LEVELS: Record<string, string> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  WARNING: 'warn',
  ERROR: 'error',
  FATAL: 'fatal',
  SILENT: 'silent',
};

export class Reader {
  readonly problems: string[] = [];
  /** Every variable name read, in order (CONFIG_VARIABLES). */
  readonly names = new Set<string>();
  constructor(private readonly env: Env) {}

  /** The value without its inline comment (env-file.ts: the same for every source); '' = unset. */
  private raw(name: string): string | undefined {
    this.names.add(name);
    const value = this.env[name];
    if (value === undefined) return undefined;
    const bare = withoutInlineComment(value);
    return bare === '' ? undefined : bare;
  }

  private parse<T>(name: string, fallback: T, schema: z.ZodType<T>, expected: string): T {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const result = schema.safeParse(raw);
    if (result.success) return result.data;
    this.problems.push(`${name}=${JSON.stringify(raw)}: expected ${expected}`);
    return fallback;
  }

  seconds(name: string, fallback: number, min = 0.001): number {
    return this.parse(
      name,
      fallback,
      z
        .string()
        .regex(/^\d+(\.\d+)?$/)
        .transform(Number)
        .pipe(
          z
            .number()
            .min(min)
            .max(86400 * 365),
        ),
      `a number of seconds ≥ ${min} (decimals allowed, e.g. 0.5)`,
    );
  }

  number(name: string, fallback: number, min: number, max: number): number {
    return this.parse(
      name,
      fallback,
      z
        .string()
        .regex(/^\d+(\.\d+)?$/)
        .transform(Number)
        .pipe(z.number().min(min).max(max)),
      `a number between ${min} and ${max}`,
    );
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    return this.parse(
      name,
      fallback,
      z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(min).max(max)),
      `an integer between ${min} and ${max}`,
    );
  }

  port(name: string, fallback: number): number {
    return this.integer(name, fallback, 0, 65535);
  }

  boolean(name: string, fallback: boolean): boolean {
    return this.parse(
      name,
      fallback,
      z
        .string()
        .transform((s) => s.toLowerCase())
        .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
        .transform((s) => s === 'true' || s === '1' || s === 'yes'),
      'true or false',
    );
  }

  choice<T extends string>(name: string, fallback: T, options: readonly T[]): T {
    return this.parse(
      name,
      fallback,
      z.string().refine((s): s is T => (options as readonly string[]).includes(s)),
      `one of ${options.join(', ')}`,
    );
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optional(name: string): string | undefined {
    return this.raw(name);
  }

  /** An instance id (it becomes part of key names), or undefined when unset or empty. */
  instanceId(name: string): string | undefined {
    const raw = this.raw(name);
    if (raw === undefined || raw === '') return undefined;
    if (!isInstanceId(raw)) {
      this.problems.push(
        `${name}=${JSON.stringify(raw)}: expected 1-128 characters of A-Z a-z 0-9 : _ . - (unique per process), or unset for hostname:pid`,
      );
      return undefined;
    }
    return raw;
  }

  symbols(name: string, fallback: string): string[] {
    const raw = this.raw(name) ?? fallback;
    const symbols = raw
      .split(',')
      .map((s) => s.trim().toUpperCase())
      .filter((s) => s !== '');
    const bad = symbols.filter((s) => !SYMBOL_RE.test(s));
    if (symbols.length === 0 || bad.length > 0) {
      this.problems.push(
        `${name}=${JSON.stringify(raw)}: expected a comma-separated list of symbols like BTCUSDT,ETHUSDT` +
          (bad.length > 0 ? ` (invalid: ${bad.join(', ')})` : ''),
      );
    }
    return [...new Set(symbols)];
  }

  logLevel(name: string): string {
    const raw = this.raw(name) ?? 'INFO';
    const level = LOG_LEVELS[raw.toUpperCase()];
    if (level === undefined) {
      this.problems.push(
        `${name}=${JSON.stringify(raw)}: expected one of ${Object.keys(LOG_LEVELS).join(', ')}`,
      );
      return 'info';
    }
    return level;
  }

  url(name: string, protocols: readonly string[]): string | undefined {
    const raw = this.raw(name);
    if (raw === undefined) return undefined;
    try {
      const url = new URL(raw);
      if (protocols.includes(url.protocol) && !raw.includes('#')) return raw;
    } catch {
      // reported below
    }
    this.problems.push(
      `${name}: expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` +
        (raw.includes('#') ? ' (write a # inside it as %23)' : ''),
    );
    return undefined;
  }

  keyPrefix(name: string, fallback: string): string {
    return this.parse(
      name,
      fallback,
      z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
      'letters, digits, _ . - (e.g. quantum)',
    );
  }

  keyTemplate(name: string, fallback: string): string {
    return this.parse(
      name,
      fallback,
      z
        .string()
        .regex(/^[A-Za-z0-9_.:{}-]{1,200}$/)
        .refine((s) => s.includes('{plan_id}')),
      'a key template containing {plan_id} (and optionally {prefix}), e.g. {prefix}:permit:governor:{plan_id}',
    );
  }
}

export type { RedisConfig, RedisSentinelConfig, SentinelAddress } from './redis-config.js';

export interface KeysConfig {
  prefix: string;
  governorPermitTemplate: string;
}

export interface LedgerConfig {
  ledgerTtlSec: number;
}

export interface ReconcileConfig {
  allowlist: readonly string[];
  cadenceSec: number;
  exchangeFreshnessSec: number;
  qtyDriftTolerancePct: number;
  evidenceWindowSec: number;
  holdTtlSec: number;
  metricsPort: number;
  metricsHost: string;
  logLevel: string;
}

export interface BrainConfig {
  allowlist: readonly string[];
  pollSec: number;
  staleThresholdSec: number;
  cooldownSec: number;
  qtyTolerancePct: number;
  permitTtlSec: number;
  planMaxAgeSec: number;
  snapshotTtlSec: number;
  requireReconcile: boolean;
  userStream: boolean;
  lotRefreshSec: number;
  /** How long a plan id stays answered (its one permit, ever). */
  planSeenTtlSec: number;
  metricsPort: number;
  metricsHost: string;
  logLevel: string;
}

export interface BinanceConfig {
  apiKey: string | undefined;
  apiSecret: string | undefined;
  /** BINANCE_ENV, else from BINANCE_TESTNET (SPEC §3). */
  environment: BinanceEnvironment;
  testnet: boolean;
  baseUrl: string;
  /** The PRIVATE WebSocket base; user data at `${wsUrl}/ws/<listenKey>`. */
  wsUrl: string;
  positionRiskVersion: 'v2' | 'v3';
  timeoutMs: number;
  recvWindowMs: number;
}

export interface GateConfig {
  waitMs: number;
}

/** Several instances (SPEC §11). */
export interface HaConfig {
  /** POSGUARD_INSTANCE_ID; undefined = `hostname:pid` (domain/leadership.ts defaultInstanceId). */
  instanceId: string | undefined;
  /** POSGUARD_LEASE_MS: a leader role's lease; renewed every lease/3. */
  leaseMs: number;
}

export interface Config {
  redis: RedisConfig;
  keys: KeysConfig;
  ledger: LedgerConfig;
  reconcile: ReconcileConfig;
  brain: BrainConfig;
  binance: BinanceConfig;
  gate: GateConfig;
  ha: HaConfig;
}

function binanceEnvironment(read: Reader): BinanceEnvironment {
  const testnetGiven = read.optional('BINANCE_TESTNET') !== undefined;
  const testnet = read.boolean('BINANCE_TESTNET', true);
  const { environment, problem } = resolveBinanceEnvironment({
    env: read.optional('BINANCE_ENV'),
    testnet,
    testnetGiven,
  });
  if (problem !== null) read.problems.push(problem);
  return environment;
}

/** Reads and validates every variable; throws one ConfigError listing every problem. */
export function loadConfig(env: Env): Readonly<Config> {
  const read = new Reader(env);
  const config = readConfig(read);
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return deepFreeze(config);
}

function readConfig(read: Reader): Config {
  const environment = binanceEnvironment(read);
  const urls = BINANCE_ENVIRONMENTS[environment];
  const config: Config = {
    redis: readRedisConfig(read),
    keys: {
      prefix: read.keyPrefix('KEY_PREFIX', 'quantum'),
      governorPermitTemplate: read.keyTemplate(
        'GATE_GOVERNOR_KEY_TEMPLATE',
        '{prefix}:permit:governor:{plan_id}',
      ),
    },
    ledger: { ledgerTtlSec: read.seconds('P33_LEDGER_TTL_SEC', 86400, 1) },
    reconcile: {
      allowlist: read.symbols('P34_ALLOWLIST', 'BTCUSDT'),
      cadenceSec: read.seconds('P34_LOOP_CADENCE_SEC', 1.0, 0.05),
      exchangeFreshnessSec: read.seconds('P34_EXCHANGE_FRESHNESS_SEC', 10),
      qtyDriftTolerancePct: read.number('P34_QTY_DRIFT_TOLERANCE_PCT', 1.0, 0, 100),
      evidenceWindowSec: read.seconds('P34_EVIDENCE_WINDOW_SEC', 300, 1),
      holdTtlSec: read.seconds('P34_HOLD_TTL_SEC', 300, 1),
      metricsPort: read.port('P34_PROMETHEUS_PORT', 8046),
      metricsHost: read.string('P34_METRICS_HOST', '127.0.0.1'),
      logLevel: read.logLevel('P34_LOG_LEVEL'),
    },
    brain: {
      allowlist: read.symbols('P33_ALLOWLIST', 'BTCUSDT'),
      pollSec: read.seconds('P33_POLL_SEC', 5, 0.05),
      staleThresholdSec: read.seconds('P33_STALE_THRESHOLD_SEC', 10),
      cooldownSec: read.seconds('P33_COOLDOWN_SEC', 15, 0),
      qtyTolerancePct: read.number('P33_QTY_TOLERANCE_PCT', 1.0, 0, 100),
      permitTtlSec: read.seconds('P33_PERMIT_TTL', 60, 1),
      planMaxAgeSec: read.seconds('P33_PLAN_MAX_AGE_SEC', 30, 1),
      snapshotTtlSec: read.seconds('P33_SNAPSHOT_TTL_SEC', 3600, 1),
      requireReconcile: read.boolean('P33_REQUIRE_RECONCILE', true),
      userStream: read.boolean('P33_USER_STREAM', false),
      lotRefreshSec: read.seconds('P33_LOT_REFRESH_SEC', 3600, 1),
      planSeenTtlSec: read.seconds('P33_PLAN_SEEN_TTL_SEC', 7 * 86400, 60),
      metricsPort: read.port('P33_METRICS_PORT', 8045),
      metricsHost: read.string('P33_METRICS_HOST', '127.0.0.1'),
      logLevel: read.logLevel('P33_LOG_LEVEL'),
    },
    binance: {
      apiKey: read.optional('BINANCE_API_KEY'),
      apiSecret: read.optional('BINANCE_API_SECRET'),
      environment,
      testnet: environment === 'testnet',
      baseUrl: read.url('BINANCE_BASE_URL', ['http:', 'https:']) ?? urls.rest,
      wsUrl: read.url('BINANCE_WS_URL', ['ws:', 'wss:']) ?? urls.privateWs,
      positionRiskVersion: read.choice('BINANCE_POSITION_RISK_VERSION', 'v2', [
        'v2',
        'v3',
      ] as const),
      timeoutMs: read.seconds('BINANCE_TIMEOUT_SEC', 5, 0.1) * 1000,
      recvWindowMs: read.integer('BINANCE_RECV_WINDOW_MS', 5000, 1, 60000),
    },
    gate: { waitMs: read.integer('GATE_WAIT_MS', 1200, 0, 60000) },
    ha: {
      instanceId: read.instanceId('POSGUARD_INSTANCE_ID'),
      leaseMs: read.integer('POSGUARD_LEASE_MS', 3000, MIN_LEASE_MS, 600_000),
    },
  };
  return config;
}

/**
 * Every environment variable `loadConfig` reads, sorted — taken from the reader itself so
 * it can never drift from the code (deploy/config/*.env are checked against it).
 */
export const CONFIG_VARIABLES: readonly string[] = Object.freeze(variableNames());

function variableNames(): string[] {
  const read = new Reader({});
  readConfig(read);
  return [...read.names].sort();
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
