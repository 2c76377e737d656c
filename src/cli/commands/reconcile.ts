/**
 * `posguard reconcile [--once] [--dry-run] [--json] [--env-file PATH]` — the Reconcile
 * Engine (P3.4, SPEC §7). Without flags it runs the service (metrics on
 * P34_METRICS_HOST:P34_PROMETHEUS_PORT) until SIGTERM/SIGINT, which finish the current
 * cycle and exit 0. `--once` runs one cycle and prints what it did; `--dry-run` reads and
 * prints each symbol's decision and writes nothing.
 */
import type { Command } from 'commander';
import type { Config } from '../../config/config.js';
import { PosguardError, errorMessage } from '../../errors.js';
import type { Clock } from '../../domain/time.js';
import { type Logger, createLogger, redactUrl } from '../../observability/logger.js';
import { createRedis, waitForReady } from '../../redis/connection.js';
import { buildKeys } from '../../redis/keys.js';
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

/** One cycle (or one dry run): connect, run, print, disconnect. */
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
  try {
    await waitForReady(redis, 3000).catch((error: unknown) => {
      throw new PosguardError(
        'REDIS_UNAVAILABLE',
        `cannot reach Redis at ${redactUrl(config.redis.url)}: ${lastError || errorMessage(error)}`,
      );
    });
    const engine = new ReconcileEngine({
      redis,
      keys: buildKeys(config.keys.prefix, config.keys.governorPermitTemplate),
      reconcile: config.reconcile,
      ledger: config.ledger,
      clock: io.clock,
      logger: engineLogger(config, io),
      metrics: createReconcileMetrics(),
    });
    const report = await engine.runOnce({ dryRun: options.dryRun === true });
    io.stdout.write(options.json === true ? reportToJson(report) : formatDecisionTable(report));
    // A commit error or a key-type refusal: nothing was written for that symbol.
    const failed = report.outcomes.some((o) => commitFailure(o.commit) !== null);
    return failed ? 1 : 0;
  } finally {
    await redis.quit().catch(() => redis.disconnect());
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
