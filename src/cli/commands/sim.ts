/**
 * `posguard sim`: the pipeline simulator alone, against an existing Redis and venue
 * (BINANCE_BASE_URL) for people running `posguard venue`, `posguard brain` and
 * `posguard reconcile` as separate processes. It plans, grants Governor permits,
 * consumes permits through the gate, trades on the venue and writes apply.result,
 * printing a status line every few seconds until Ctrl-C, then the order audit.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { type Amount, parseAmount } from '../../domain/amount.js';
import { isSymbol } from '../../domain/identifiers.js';
import { PosguardError } from '../../errors.js';
import { createLogger } from '../../observability/logger.js';
import { auditOrders, toAudited } from '../../dev/pipeline/order-audit.js';
import { startPipeline } from '../../dev/pipeline/pipeline.js';
import { HttpVenuePort } from '../../dev/pipeline/venue-port.js';
import { configFrom, withEnvFile } from '../config-option.js';
import { systemClock } from '../../runtime/clock.js';

interface SimOptions {
  envFile?: string;
  rate: number;
  symbols?: string;
  size: string;
  governorDeny: number;
  statusEvery: number;
}

function numberArg(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a number between ${min} and ${max}`);
    }
    return n;
  };
}

function targets(symbols: readonly string[], size: string): Map<string, Amount> {
  const amount = parseAmount(size);
  if (amount === null || !amount.gt(0)) {
    throw new PosguardError(
      'USAGE',
      `--size must be a positive decimal (got ${JSON.stringify(size)})`,
    );
  }
  return new Map(symbols.map((s, i) => [s, i % 2 === 0 ? amount : amount.neg()] as const));
}

async function sim(options: SimOptions): Promise<void> {
  const config = configFrom(options);
  const symbols = options.symbols
    ? options.symbols
        .split(',')
        .map((s) => s.trim().toUpperCase())
        .filter((s) => s !== '')
    : [...config.brain.allowlist];
  const bad = symbols.filter((s) => !isSymbol(s));
  if (symbols.length === 0 || bad.length > 0) {
    throw new PosguardError(
      'USAGE',
      `--symbols must be a comma-separated list like BTCUSDT,ETHUSDT (invalid: ${bad.join(', ')})`,
    );
  }
  const logger = createLogger({ name: 'posguard-sim', level: config.brain.logLevel });
  const clock = systemClock;
  const pipeline = await startPipeline({
    config,
    clock,
    logger,
    symbols,
    targets: targets(symbols, options.size),
    ratePerSec: options.rate,
    governorDenyFraction: options.governorDeny,
    keeperEveryMs: 2000,
  });
  logger.info(
    { symbols, rate: options.rate, prefix: config.keys.prefix, venue: config.binance.baseUrl },
    'pipeline simulator running (Ctrl-C to stop)',
  );
  const timer = setInterval(() => {
    const counts = pipeline.book.counts();
    const latency = pipeline.book.latency();
    logger.info(
      {
        allowed: counts.allowed,
        denied: counts.denied,
        by_reason: counts.byReason,
        p50_ms: latency.p50Ms,
        p99_ms: latency.p99Ms,
        orders: pipeline.apply.stats,
      },
      'sim status',
    );
  }, options.statusEvery * 1000);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  clearInterval(timer);
  await pipeline.stop();
  try {
    const log = await new HttpVenuePort(config.binance.baseUrl).orders();
    const audit = auditOrders(log.filter((o) => o.source === 'api').map(toAudited));
    logger.info(
      {
        reduce_only: audit.reduceOnlyOrders,
        opening: audit.openingOrders,
        violations: audit.violations,
      },
      'order audit (venue order log)',
    );
    if (audit.violations.length > 0) process.exitCode = 1;
  } catch (error) {
    logger.warn(
      { err: String(error) },
      'no order audit: the venue has no control API (not a posguard venue?)',
    );
  }
}

export function registerSim(program: Command): void {
  withEnvFile(
    program
      .command('sim')
      .description(
        'run the pipeline simulator (planner, Governor stub, Apply Layer stub through the gate)\n' +
          'against an existing Redis and venue (BINANCE_BASE_URL); Ctrl-C stops it',
      )
      .option('--rate <n>', 'close plans per second across all symbols', numberArg(0, 1000), 4)
      .option('--symbols <list>', 'comma-separated symbols (default: P33_ALLOWLIST)')
      .option(
        '--size <qty>',
        'position size kept open per symbol (alternately long and short)',
        '0.05',
      )
      .option(
        '--governor-deny <fraction>',
        'share of plans the Governor stub refuses',
        numberArg(0, 1),
        0.05,
      )
      .option('--status-every <seconds>', 'seconds between status lines', numberArg(1, 3600), 5),
  ).action((options: SimOptions) => sim(options));
}
