/**
 * `posguard reconcile [--once] [--dry-run] [--json] [--env-file PATH]` — the Reconcile
 * Engine (P3.4, SPEC §7). Without flags it runs the service (metrics on
 * P34_METRICS_HOST:P34_PROMETHEUS_PORT) until SIGTERM/SIGINT, which finish the current
 * cycle and exit 0. `--once` runs one cycle and prints what it did; `--dry-run` reads and
 * prints each symbol's decision and writes nothing.
 *
 * `--once` writes as the `reconcile` leader (SPEC §11): it takes the role's lease for the
 * one cycle (instance `cli-once:<host>:<pid>`) and releases it after, so its writes carry a
 * fresh epoch and a running engine's cannot interleave with them. While another instance
 * holds the lease it refuses (exit 1, naming the holder and the lease's TTL). `--dry-run`
 * writes nothing and takes no lease.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import type { Config } from '../../config/config.js';
import { PosguardError, errorMessage } from '../../errors.js';
import type { Clock } from '../../domain/time.js';
import { type Logger, createLogger, redactUrl } from '../../observability/logger.js';
import { createRedis, waitForReady } from '../../redis/connection.js';
import {
  LeaseHeldError,
  type SoleTerm,
  idleTerm,
  jobInstanceId,
  takeSoleTerm,
} from '../../redis/ha/sole-term.js';
import { type Keys, buildKeys } from '../../redis/keys.js';
import { commitFailure } from '../../reconcile/commit-writer.js';
import { ReconcileEngine } from '../../reconcile/engine.js';
import { createReconcileMetrics } from '../../reconcile/metrics.js';
import { formatDecisionTable, reportToJson } from '../output/reconcile-report.js';
import { startReconcileService } from '../../reconcile/service.js';
import { configFrom, withEnvFile } from '../config-option.js';
import { systemClock } from '../../runtime/clock.js';

export interface ReconcileOptions {
  envFile?: string;
  once?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

export interface ReconcileIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  /** Logger for the engine; defaults to JSON logs on stderr at P34_LOG_LEVEL. */
  logger?: Logger;
}

const defaultIo = (): ReconcileIo => ({
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  clock: systemClock,
});

function engineLogger(config: Readonly<Config>, io: ReconcileIo): Logger {
  return (
    io.logger ??
    createLogger({
      name: 'posguard-reconcile',
      level: config.reconcile.logLevel,
      destination: io.stderr,
    })
  );
}

/** One cycle (or one dry run): connect, (take the lease,) run, print, (release,) disconnect. */
async function runSingleCycle(
  config: Readonly<Config>,
  options: ReconcileOptions,
  io: ReconcileIo,
): Promise<number> {
  const redis = createRedis(config.redis, { name: 'posguard-reconcile-once' });
  let lastError = '';
  redis.on('error', (error: unknown) => {
    lastError = errorMessage(error);
  });
  let term: SoleTerm | null = null;
  try {
    await waitForReady(redis, 3000).catch((error: unknown) => {
      throw new PosguardError(
        'REDIS_UNAVAILABLE',
        `cannot reach Redis at ${redactUrl(config.redis.url)}: ${lastError || errorMessage(error)}`,
      );
    });
    const keys = buildKeys(config.keys.prefix, config.keys.governorPermitTemplate);
    const dryRun = options.dryRun === true;
    const instanceId = jobInstanceId('cli-once', hostname(), process.pid);
    if (!dryRun) term = await takeLease(redis, keys, instanceId, config.ha.leaseMs);
    const engine = new ReconcileEngine({
      redis,
      keys,
      reconcile: config.reconcile,
      ledger: config.ledger,
      clock: io.clock,
      logger: engineLogger(config, io),
      metrics: createReconcileMetrics(),
      term: term ?? idleTerm('reconcile'),
      instanceId,
    });
    const report = await engine.runOnce({ dryRun });
    io.stdout.write(options.json === true ? reportToJson(report) : formatDecisionTable(report));
    // A commit error or a key-type refusal: nothing was written for that symbol.
    const failed = report.outcomes.some((o) => commitFailure(o.commit) !== null);
    return failed ? 1 : 0;
  } finally {
    await releaseLease(term, io);
    await redis.quit().catch(() => redis.disconnect());
  }
}

/** The `reconcile` lease for one cycle, or a refusal naming who holds it. */
async function takeLease(
  redis: Redis,
  keys: Keys,
  instanceId: string,
  leaseMs: number,
): Promise<SoleTerm> {
  try {
    return await takeSoleTerm({ redis, keys, role: 'reconcile', instanceId, leaseMs });
  } catch (error) {
    if (!(error instanceof LeaseHeldError)) throw error;
    throw new PosguardError(
      'CONFLICT',
      `refusing to write: ${error.message}. --once writes only while no engine leads; --dry-run shows the decisions without writing`,
      { cause: error },
    );
  }
}

/** Gives the lease back after the cycle; a failure only delays the next leader by one lease. */
async function releaseLease(term: SoleTerm | null, io: ReconcileIo): Promise<void> {
  if (term === null) return;
  try {
    await term.release();
  } catch (error) {
    io.stderr.write(
      `posguard reconcile: could not release the reconcile lease (${errorMessage(error)}); it expires by itself within POSGUARD_LEASE_MS\n`,
    );
  }
}

/** The service: runs until SIGTERM/SIGINT, then finishes the current cycle and returns 0. */
async function runService(config: Readonly<Config>, io: ReconcileIo): Promise<number> {
  const logger = engineLogger(config, io);
  const service = await startReconcileService({ config, logger, clock: io.clock });
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'stopping after the current cycle');
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  await service.stop();
  return 0;
}

export async function runReconcileCommand(
  options: ReconcileOptions,
  io: ReconcileIo = defaultIo(),
): Promise<number> {
  const config = configFrom(options, io.env);
  try {
    if (options.once === true || options.dryRun === true)
      return await runSingleCycle(config, options, io);
    return await runService(config, io);
  } catch (error) {
    io.stderr.write(`posguard reconcile: ${errorMessage(error)}\n`);
    return 1;
  }
}

export function registerReconcile(program: Command): void {
  withEnvFile(
    program
      .command('reconcile')
      .description(
        'run the Reconcile Engine (P3.4): compare exchange snapshots with ledgers every ' +
          'P34_LOOP_CADENCE_SEC, hold on drift, repair on evidence',
      )
      .option('--once', 'run one cycle, print what it did, exit (0 ok, 1 failure)')
      .option(
        '--dry-run',
        'read and print each symbol’s decision; write nothing (implies one pass)',
      )
      .option('--json', 'with --once/--dry-run: print JSON instead of a table'),
  ).action(async (options: ReconcileOptions) => {
    process.exitCode = await runReconcileCommand(options);
  });
}
