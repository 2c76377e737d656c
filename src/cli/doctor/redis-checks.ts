/**
 * Doctor checks against Redis: reachability, version ≥ 6.2, round-trip time, clock skew
 * against Redis TIME, the key prefix, and the two services' heartbeats.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../../config/config.js';
import { errorMessage } from '../../errors.js';
import { redactUrl } from '../../observability/logger.js';
import type { Keys } from '../../redis/keys.js';
import type { Clock } from '../../domain/time.js';
import { type CheckResult, check, heartbeatMs, skewCheck, versionAtLeast } from './check.js';

export const MIN_REDIS_VERSION = '6.2';
const PINGS = 5;
const RTT_WARN_MS = 50;

/** PEXPIRETIME, which the engine's hold ownership uses, came with Redis 7.0. */
const PEXPIRETIME_VERSION = '7.0.0';

async function versionCheck(redis: Redis): Promise<CheckResult> {
  const info = await redis.info('server');
  return redisVersionCheck(/^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown');
}

/** Judges a Redis version: FAIL below 6.2, WARN below 7.0 (no PEXPIRETIME), else PASS. */
export function redisVersionCheck(version: string): CheckResult {
  if (!versionAtLeast(version, MIN_REDIS_VERSION))
    return check(
      'redis version',
      'FAIL',
      `${version}: posguard needs Redis ≥ ${MIN_REDIS_VERSION}`,
    );
  // The engine tells its own hold from an operator's by PEXPIRETIME (Redis ≥ 7.0); below
  // that it fails closed: its holds are treated as shared and lapse by TTL (docs/reconcile-engine.md).
  if (!versionAtLeast(version, PEXPIRETIME_VERSION))
    return check(
      'redis version',
      'WARN',
      `${version}: below ${PEXPIRETIME_VERSION} (no PEXPIRETIME) the engine cannot tell its holds from an operator's; its holds stay up to P34_HOLD_TTL_SEC after their condition clears — upgrade Redis`,
    );
  return check('redis version', 'PASS', `${version} (≥ ${MIN_REDIS_VERSION})`);
}

async function rttCheck(redis: Redis): Promise<CheckResult> {
  const samples: number[] = [];
  for (let i = 0; i < PINGS; i += 1) {
    const start = performance.now();
    await redis.ping();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)] ?? 0;
  const text = `median ${median.toFixed(2)} ms over ${PINGS} PINGs (max ${(samples[samples.length - 1] ?? 0).toFixed(2)} ms)`;
  return median > RTT_WARN_MS
    ? check('redis round trip', 'WARN', `${text}: slow for a 1 s reconcile cycle`)
    : check('redis round trip', 'PASS', text);
}

async function timeCheck(redis: Redis, clock: Clock): Promise<CheckResult> {
  const before = clock.nowMs();
  const [seconds, micros] = await redis.time();
  const after = clock.nowMs();
  const redisMs = Number(seconds) * 1000 + Number(micros) / 1000;
  return skewCheck('clock vs redis', redisMs - (before + after) / 2, 'Redis TIME');
}

async function heartbeatCheck(
  redis: Redis,
  name: string,
  key: string,
  maxAgeSec: number,
  nowMs: number,
  missing: string,
): Promise<CheckResult> {
  const type = await redis.type(key);
  if (type === 'none') return check(name, 'WARN', `${key} is absent: ${missing}`);
  if (type !== 'string') return check(name, 'WARN', `${key} is a ${type}, not a string`);
  const raw = (await redis.get(key)) ?? '';
  const ms = heartbeatMs(raw);
  if (ms === null) return check(name, 'WARN', `${key} present but has no readable ts_ms`);
  const age = (nowMs - ms) / 1000;
  if (age > maxAgeSec)
    return check(
      name,
      'WARN',
      `${key} is ${age.toFixed(1)} s old (> ${maxAgeSec} s): is the service stuck?`,
    );
  return check(name, 'PASS', `${key} ${age.toFixed(1)} s old`);
}

export async function redisChecks(
  redis: Redis,
  config: Readonly<Config>,
  keys: Keys,
  clock: Clock,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [
    check('redis', 'PASS', `reachable at ${redactUrl(config.redis.url)} db ${config.redis.db}`),
  ];
  const steps: Array<[string, () => Promise<CheckResult>]> = [
    ['redis version', () => versionCheck(redis)],
    ['redis round trip', () => rttCheck(redis)],
    ['clock vs redis', () => timeCheck(redis, clock)],
    [
      'key prefix',
      () =>
        Promise.resolve(
          check('key prefix', 'PASS', `${config.keys.prefix} (e.g. ${keys.ledger('BTCUSDT')})`),
        ),
    ],
    [
      'brain heartbeat',
      () =>
        heartbeatCheck(
          redis,
          'brain heartbeat',
          keys.brainHeartbeat,
          Math.max(5, 3 * config.brain.pollSec),
          clock.nowMs(),
          'the brain (P3.3) is not running here, so no permits are issued',
        ),
    ],
    [
      'reconcile heartbeat',
      () =>
        heartbeatCheck(
          redis,
          'reconcile heartbeat',
          keys.reconcileHeartbeat,
          Math.max(5, 3 * config.reconcile.cadenceSec),
          clock.nowMs(),
          'the reconcile engine (P3.4) is not running; with P33_REQUIRE_RECONCILE=true every permit is denied',
        ),
    ],
  ];
  for (const [name, run] of steps) {
    try {
      results.push(await run());
    } catch (error) {
      results.push(check(name, 'FAIL', errorMessage(error)));
    }
  }
  return results;
}
