/**
 * `posguard doctor` — is this host ready? Configuration (every problem), Redis
 * (reachable, ≥ 6.2, round trip, clock skew, prefix, heartbeats, instances and leaders of
 * SPEC §11: src/cli/doctor/instance-checks.ts), the exchange
 * (reachable, clock skew) and credentials (set/missing). PASS/WARN/FAIL per line;
 * exit 1 when anything FAILs. Never prints a secret. The configuration is loaded by the
 * services' own `configFrom` (`--env-file` read as systemd reads it, inline comments
 * dropped, the environment wins), so a file is judged exactly as the service will read
 * it; `--json` also prints that configuration, secrets replaced.
 */
import type { Command } from 'commander';
import type { Config } from '../../config/config.js';
import { ConfigError, errorMessage } from '../../errors.js';
import { configFrom, withEnvFile } from '../config-option.js';
import { systemClock } from '../arguments.js';
import { type CheckResult, check } from '../doctor/check.js';
import { type ConfigView, configView } from '../doctor/config-view.js';
import {
  credentialChecks,
  exchangeChecks,
  userStreamBaseCheck,
} from '../doctor/exchange-checks.js';
import { instanceChecks } from '../doctor/instance-checks.js';
import { TAKEOVER_MARGIN_MS, takeoverBudget } from '../../domain/leadership.js';
import { heartbeatTtlMs } from '../../domain/reconcile-heartbeat.js';
import { redisChecks } from '../doctor/redis-checks.js';
import { type Colour, painterFor } from '../output/colour.js';
import { print, printJson } from '../output/json.js';
import { closeRedis, keysFor, openRedis } from '../redis-session.js';

const LEVEL_COLOURS: Record<CheckResult['level'], Colour> = {
  PASS: 'green',
  WARN: 'yellow',
  FAIL: 'red',
  SKIP: 'dim',
};

function loadChecked(options: {
  envFile?: string;
}): { config: Readonly<Config> } | { failures: CheckResult[] } {
  try {
    return { config: configFrom(options) };
  } catch (error) {
    if (error instanceof ConfigError)
      return { failures: error.problems.map((p) => check('config', 'FAIL', p)) };
    return { failures: [check('config', 'FAIL', errorMessage(error))] };
  }
}

async function redisSection(config: Readonly<Config>): Promise<CheckResult[]> {
  let redis;
  try {
    redis = await openRedis(config, 'posguard-doctor', 3000);
  } catch (error) {
    return [
      check('redis', 'FAIL', errorMessage(error)),
      check('redis checks', 'SKIP', 'version, round trip, clock, heartbeats, leaders need Redis'),
    ];
  }
  try {
    const keys = keysFor(config);
    return [
      ...(await redisChecks(redis, config, keys, systemClock)),
      ...(await instanceChecks(redis, keys, {
        leaseMs: config.ha.leaseMs,
        nowMs: systemClock.nowMs(),
      })),
    ];
  } finally {
    await closeRedis(redis);
  }
}

export interface DoctorReport {
  checks: CheckResult[];
  /** The configuration the service would run with (secrets replaced); null when invalid. */
  config: ConfigView | null;
}

export async function runDoctor(options: { envFile?: string }): Promise<DoctorReport> {
  const loaded = loadChecked(options);
  if ('failures' in loaded)
    return {
      checks: [...loaded.failures, check('everything else', 'SKIP', 'fix the configuration first')],
      config: null,
    };
  const { config } = loaded;
  const [redis, exchange] = await Promise.all([
    redisSection(config),
    exchangeChecks(config, systemClock),
  ]);
  return {
    checks: [
      check('config', 'PASS', 'every variable valid'),
      ...redis,
      ...exchange,
      ...credentialChecks(config),
      userStreamBaseCheck(config),
      takeoverCheck(config),
    ],
    config: configView(config),
  };
}

/** POSGUARD_LEASE_MS against the reconcile heartbeat (SPEC §11): a takeover must beat its TTL. */
export function takeoverCheck(config: Readonly<Config>): CheckResult {
  const { cadenceSec } = config.reconcile;
  const budget = takeoverBudget(config.ha.leaseMs, cadenceSec, heartbeatTtlMs(cadenceSec));
  const what = `POSGUARD_LEASE_MS ${config.ha.leaseMs} + P34_LOOP_CADENCE_SEC ${cadenceSec} s + ${TAKEOVER_MARGIN_MS} ms for the first cycle = ${budget.worstGapMs} ms`;
  if (budget.ok)
    return check(
      'takeover',
      'PASS',
      `${what} ≤ the reconcile heartbeat's ${budget.heartbeatTtlMs} ms: a dead leader is replaced before the brain denies reconcile_engine_down`,
    );
  return check(
    'takeover',
    'WARN',
    `${what} > the reconcile heartbeat's ${budget.heartbeatTtlMs} ms: when the reconcile leader dies, every permit can deny reconcile_engine_down until a standby takes over — fix: lower POSGUARD_LEASE_MS to ≤ ${budget.heartbeatTtlMs - Math.round(cadenceSec * 1000) - TAKEOVER_MARGIN_MS}`,
  );
}

async function doctor(options: { envFile?: string; json?: boolean }): Promise<void> {
  const { checks: results, config } = await runDoctor(options);
  const failed = results.some((r) => r.level === 'FAIL');
  if (options.json === true) printJson({ ok: !failed, checks: results, config });
  else {
    const painter = painterFor();
    const width = Math.max(...results.map((r) => r.name.length));
    for (const r of results)
      print(
        `${painter.paint(r.level.padEnd(4), LEVEL_COLOURS[r.level])}  ${r.name.padEnd(width)}  ${r.message}`,
      );
    print(failed ? 'doctor: FAIL' : 'doctor: ok');
  }
  if (failed) process.exitCode = 1;
}

export function registerDoctor(program: Command): void {
  withEnvFile(
    program
      .command('doctor')
      .summary('check config, Redis, heartbeats, exchange reachability and clock skew')
      .description(
        'check this host: configuration, Redis (reachable, ≥ 6.2, round trip, clock skew, heartbeats,\n' +
          'instances and leaders: no leader, stale claims, broken leases, epochs or fences),\n' +
          'the exchange (/fapi/v1/time, clock skew) and credentials. Exit 1 if any line FAILs.',
      )
      .option('--json', 'print the checks as JSON')
      .addHelpText(
        'after',
        '\nExample:\n  posguard doctor --env-file /etc/quantum/position-state-brain.env',
      ),
  ).action((options: { envFile?: string; json?: boolean }) => doctor(options));
}
