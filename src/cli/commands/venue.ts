/**
 * `posguard venue`: runs the simulated Binance USD-M venue until SIGINT/SIGTERM.
 * It accepts exactly BINANCE_API_KEY / BINANCE_API_SECRET, so the brain pointed at it
 * (BINANCE_BASE_URL / BINANCE_WS_URL) signs its requests as it would against Binance.
 */
import type { Command } from 'commander';
import { PosguardError } from '../../errors.js';
import { createLogger } from '../../observability/logger.js';
import { startVenue, syntheticSymbols } from '../../dev/venue/venue.js';
import { configFrom, withEnvFile } from '../config-option.js';

interface VenueCliOptions {
  envFile?: string;
  port: string;
  host: string;
  symbols: string;
  synthetic?: string;
  weightLimit?: string;
}

function integerOption(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PosguardError(
      'USAGE',
      `${name} must be an integer between ${min} and ${max} (got ${JSON.stringify(raw)})`,
    );
  }
  return value;
}

async function runVenue(options: VenueCliOptions): Promise<void> {
  const config = configFrom(options);
  const { apiKey, apiSecret } = config.binance;
  if (apiKey === undefined || apiSecret === undefined || apiKey === '' || apiSecret === '') {
    throw new PosguardError(
      'USAGE',
      'the venue accepts one key pair: set BINANCE_API_KEY and BINANCE_API_SECRET (any values)',
    );
  }
  const symbols = options.symbols
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (options.synthetic !== undefined)
    symbols.push(...syntheticSymbols(integerOption('--synthetic', options.synthetic, 0, 100_000)));
  const logger = createLogger({ name: 'venue', level: config.brain.logLevel });
  const venue = await startVenue({
    port: integerOption('--port', options.port, 0, 65535),
    host: options.host,
    apiKey,
    apiSecret,
    symbols,
    weightLimit1m:
      options.weightLimit === undefined
        ? null
        : integerOption('--weight-limit', options.weightLimit, 1, 1_000_000),
  });
  logger.info(
    { baseUrl: venue.baseUrl, wsUrl: venue.wsUrl, symbols: symbols.length },
    'simulated Binance USD-M venue listening',
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await venue.close();
  logger.info('venue stopped');
}

export function registerVenue(program: Command): void {
  withEnvFile(
    program
      .command('venue')
      .description(
        'run the simulated Binance USD-M venue (REST + user-data WebSocket + /_control API)',
      )
      .option('--port <n>', 'port to listen on (0 = any free port)', '8090')
      .option('--host <h>', 'address to bind', '127.0.0.1')
      .option('--symbols <list>', 'comma-separated symbols', 'BTCUSDT,ETHUSDT')
      .option('--synthetic <n>', 'add N synthetic symbols SIM00001USDT… (load tests)')
      .option(
        '--weight-limit <n>',
        'answer 429 once a minute’s request weight passes N (Binance: 2400)',
      ),
  ).action(runVenue);
}
