/**
 * The demo's configuration: demo-friendly timings as ordinary posguard variables (the
 * services read them through loadConfig exactly as in production), the symbols and the
 * positions the pipeline keeps open, and the scenario pacing.
 */
import { Decimal, type Amount } from '../../domain/amount.js';
import type { DemoTiming } from './step-context.js';

/** Signed position the keeper holds each symbol at: BTC and SOL long, ETH short. */
export const DEMO_TARGETS: ReadonlyMap<string, Amount> = new Map([
  ['BTCUSDT', new Decimal('0.05')],
  ['ETHUSDT', new Decimal('-1.2')],
  ['SOLUSDT', new Decimal('30')],
]);

export const DEMO_API_KEY = 'demo-api-key';
export const DEMO_API_SECRET = 'demo-api-secret';

/** posguard variables for the demo (documented in docs/demo.md). */
export function demoEnv(input: {
  redisUrl: string;
  redisDb?: string;
  keyPrefix: string;
  baseUrl: string;
  wsUrl: string;
  brainPort: number;
  reconcilePort: number;
  symbols: readonly string[];
}): Record<string, string> {
  const env: Record<string, string> = {
    REDIS_URL: input.redisUrl,
    KEY_PREFIX: input.keyPrefix,
    BINANCE_BASE_URL: input.baseUrl,
    BINANCE_WS_URL: input.wsUrl,
    BINANCE_API_KEY: DEMO_API_KEY,
    BINANCE_API_SECRET: DEMO_API_SECRET,
    BINANCE_TESTNET: 'true',
    P33_ALLOWLIST: input.symbols.join(','),
    P34_ALLOWLIST: input.symbols.join(','),
    P33_POLL_SEC: '1',
    P33_STALE_THRESHOLD_SEC: '3.5',
    P33_COOLDOWN_SEC: '2',
    P33_QTY_TOLERANCE_PCT: '1.0',
    P33_PERMIT_TTL: '30',
    P33_PLAN_MAX_AGE_SEC: '30',
    P33_USER_STREAM: 'false',
    P34_LOOP_CADENCE_SEC: '0.5',
    P34_EXCHANGE_FRESHNESS_SEC: '3.5',
    P34_QTY_DRIFT_TOLERANCE_PCT: '1.0',
    P34_HOLD_TTL_SEC: '30',
    P34_EVIDENCE_WINDOW_SEC: '300',
    P33_METRICS_PORT: String(input.brainPort),
    P34_PROMETHEUS_PORT: String(input.reconcilePort),
    GATE_WAIT_MS: '1200',
    P33_LOG_LEVEL: 'INFO',
    P34_LOG_LEVEL: 'INFO',
  };
  if (input.redisDb !== undefined) env.REDIS_DB = input.redisDb;
  return env;
}

/** The ~60 s pacing of the default run. */
export const DEMO_TIMING: DemoTiming = {
  warmupMs: 5000,
  operatorDelayMs: 3000,
  settleMs: 1500,
  staleFeedMs: 10_000,
  detectTimeoutMs: 12_000,
  recoverTimeoutMs: 10_000,
  probeEveryMs: 400,
};

/** Floors below which a step cannot show its fault (stale threshold 3.5 s, heartbeat 5 s). */
const FLOORS: DemoTiming = {
  warmupMs: 3000,
  operatorDelayMs: 500,
  settleMs: 300,
  staleFeedMs: 5000,
  detectTimeoutMs: 10_000,
  recoverTimeoutMs: 8000,
  probeEveryMs: 300,
};

/** Scales the human pauses to a --duration (60 s = as is); detection timeouts never shrink. */
export function scaleTiming(base: DemoTiming, durationSec: number): DemoTiming {
  const factor = Math.min(3, Math.max(0.1, durationSec / 60));
  const scale = (key: keyof DemoTiming): number =>
    Math.max(FLOORS[key], Math.round(base[key] * factor));
  return {
    warmupMs: scale('warmupMs'),
    operatorDelayMs: scale('operatorDelayMs'),
    settleMs: scale('settleMs'),
    staleFeedMs: scale('staleFeedMs'),
    detectTimeoutMs: base.detectTimeoutMs,
    recoverTimeoutMs: base.recoverTimeoutMs,
    probeEveryMs: base.probeEveryMs,
  };
}
