/**
 * `posguard demo`: the whole pipeline on a private redis-server (or REDIS_URL with a
 * unique demo key prefix) and the simulated venue, a live dashboard, a scripted scenario
 * of the failures in LESSONS.md, and a verdict. Exit 0 only when every injected fault
 * was caught and no order exceeded the exchange position.
 *
 * `--scenario ha` is another run (src/dev/demo/ha-scenario.ts): two brains and two engines
 * as child processes over a private Sentinel-managed pair, a leader killed, a leader paused,
 * the master failed over; exit 0 only when every fault was survived and the invariants held.
 */
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, InvalidArgumentError } from 'commander';
import { type Logger, createLogger } from '../../observability/logger.js';
import { runDemo } from '../../dev/demo/run-demo.js';
import { renderSummary } from '../../dev/demo/report.js';
import { SCENARIO_NAMES } from '../../dev/demo/scenario.js';
import { HA_SABOTAGES, type HaSabotage, runHaDemo } from '../../dev/demo/ha-scenario.js';
import { renderHaSummary } from '../../dev/demo/ha-verdict.js';
import { CLI } from '../../dev/cli-process.js';
import { PosguardError } from '../../errors.js';
import { DEFAULT_WEB_PORT } from '../../web/settings.js';

interface DemoCliOptions {
  duration: number;
  scenario: string;
  headless?: boolean;
  json?: boolean;
  /** false with --no-web. */
  web: boolean;
  sabotage?: HaSabotage[];
}

function sabotageArg(value: string): HaSabotage[] {
  const names = value.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !(HA_SABOTAGES as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new InvalidArgumentError(`expected a comma-separated list of ${HA_SABOTAGES.join(', ')}`);
  }
  return names as HaSabotage[];
}

/** The instances run this very build (a private copy of it when it is the working tree's). */
function runningCli(): string | undefined {
  const own = fileURLToPath(new URL('../main.js', import.meta.url));
  return own === CLI ? undefined : own;
}

interface DemoSession {
  logDir: string;
  logPath: string;
  logger: Logger;
  /** Aborted on SIGINT/SIGTERM: the run stops and cleans up. */
  signal: AbortSignal;
  display: 'tty' | 'lines' | 'none';
}

/**
 * What both demos run in: a log file in a fresh temporary folder, Ctrl-C (or SIGTERM)
 * aborting the run, and how to show it (`none` with --json, `lines` headless or without a
 * terminal). Ends with the signal handlers removed and the log file flushed.
 */
async function inDemoSession(
  options: DemoCliOptions,
  logDirPrefix: string,
  logName: string,
  run: (session: DemoSession) => Promise<void>,
): Promise<void> {
  const logDir = mkdtempSync(join(tmpdir(), logDirPrefix));
  const logPath = join(logDir, logName);
  const logFile = createWriteStream(logPath);
  const logger = createLogger({ name: 'posguard-demo', level: 'info', destination: logFile });
  const controller = new AbortController();
  const onSignal = (): void => {
    process.stderr.write('\nposguard demo: stopping (Ctrl-C) — cleaning up…\n');
    controller.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const display =
    options.json === true
      ? 'none'
      : options.headless === true || process.stdout.isTTY !== true
        ? 'lines'
        : 'tty';
  try {
    await run({ logDir, logPath, logger, signal: controller.signal, display });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await new Promise<void>((resolve) => logFile.end(() => resolve()));
  }
}

function haDemo(options: DemoCliOptions): Promise<void> {
  return inDemoSession(
    options,
    'posguard-demo-ha-',
    'demo.log',
    async ({ logDir, logger, signal, display }) => {
      if (display !== 'none') process.stdout.write(`posguard demo (ha): logs → ${logDir}\n`);
      const cli = runningCli();
      const summary = await runHaDemo({
        durationSec: options.duration,
        display,
        out: process.stdout,
        logger,
        signal,
        sabotage: options.sabotage ?? [],
        logDir,
        ...(cli === undefined ? {} : { cli }),
      });
      if (options.json === true) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      else
        process.stdout.write(
          `${renderHaSummary(summary)}\nlogs (each instance, the pipeline): ${logDir}\n`,
        );
      process.exitCode = summary.ok ? 0 : 1;
    },
  );
}

function durationArg(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 5 || seconds > 3600) {
    throw new InvalidArgumentError('expected a number of seconds between 5 and 3600');
  }
  return seconds;
}

async function demo(options: DemoCliOptions): Promise<void> {
  if (options.scenario === 'ha') return haDemo(options);
  if (options.sabotage !== undefined) {
    throw new PosguardError('USAGE', '--sabotage belongs to --scenario ha');
  }
  return inDemoSession(
    options,
    'posguard-demo-',
    'services.log',
    async ({ logPath, logger, signal, display }) => {
      if (display !== 'none') process.stdout.write(`posguard demo: service logs → ${logPath}\n`);
      if (display === 'tty') process.stdout.write('\x1b[?25l\x1b[2J');
      try {
        const summary = await runDemo({
          durationSec: options.duration,
          scenario: options.scenario,
          display,
          out: process.stdout,
          logger,
          signal,
          ...(options.web ? { web: { port: DEFAULT_WEB_PORT } } : {}),
          // With --json stdout carries only the summary: the page's URL goes to stderr.
          announce: (line) =>
            (display === 'none' ? process.stderr : process.stdout).write(`${line}\n`),
          ...(process.env.REDIS_URL ? { redisUrl: process.env.REDIS_URL } : {}),
          ...(process.env.REDIS_URL && process.env.REDIS_DB
            ? { redisDb: process.env.REDIS_DB }
            : {}),
        });
        if (options.json === true) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        else process.stdout.write(`${renderSummary(summary)}\nservice logs: ${logPath}\n`);
        process.exitCode = summary.ok ? 0 : 1;
      } finally {
        if (display === 'tty') process.stdout.write('\x1b[?25h');
      }
    },
  );
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'run the whole pipeline (private redis-server, simulated venue, brain, reconcile engine,\n' +
        'planner/Governor/Apply Layer stubs), inject the failures of LESSONS.md with a live\n' +
        'dashboard, and print a verdict (exit 0 only if every fault was caught)',
    )
    .option(
      '--duration <seconds>',
      'length of the run; scales the pauses, truncates the scenario',
      durationArg,
      60,
    )
    .option(
      '--scenario <name>',
      `one of ${SCENARIO_NAMES.join(', ')} (or a comma-separated list), or ha: several ` +
        'instances over a Sentinel pair, a leader killed, a leader paused, a Redis failover ' +
        '(docs/demo.md)',
      'all',
    )
    .option(
      '--sabotage <list>',
      `ha scenario only: break an invariant on purpose to see the verdict FAIL (${HA_SABOTAGES.join(', ')})`,
      sabotageArg,
    )
    .option('--headless', 'one status line per second instead of the full-screen dashboard')
    .option('--json', 'print only the summary, as JSON')
    .option(
      '--no-web',
      `do not serve the status page (default: served on 127.0.0.1:${DEFAULT_WEB_PORT}, or a free port if taken; its URL is printed at start)`,
    )
    .addHelpText(
      'after',
      '\nWith REDIS_URL set, runs there under a unique demo-<random> key prefix (deleted at the end).',
    )
    .action((options: DemoCliOptions) => demo(options));
}
