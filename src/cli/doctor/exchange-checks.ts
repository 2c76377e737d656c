/**
 * Doctor checks against the exchange: `/fapi/v1/time` reachability, round trip and clock
 * skew (through the real Binance client), and whether the API credentials are set —
 * printed as `set`/`missing`, never their values.
 */
import type { Config } from '../../config/config.js';
import type { Clock } from '../../domain/time.js';
import { errorMessage } from '../../errors.js';
import { binanceClientFromConfig } from '../../exchange/binance-client.js';
import { silentLogger } from '../../observability/logger.js';
import { type CheckResult, check, skewCheck } from './check.js';

export async function exchangeChecks(
  config: Readonly<Config>,
  clock: Clock,
): Promise<CheckResult[]> {
  const client = binanceClientFromConfig(config.binance, { clock, logger: silentLogger() });
  const base = config.binance.baseUrl;
  const start = clock.nowMs();
  try {
    await client.syncTime();
  } catch (error) {
    return [
      check('exchange', 'FAIL', `${base}/fapi/v1/time unreachable: ${errorMessage(error)}`),
      check('clock vs exchange', 'SKIP', 'exchange unreachable'),
    ];
  }
  const rtt = clock.nowMs() - start;
  return [
    check('exchange', 'PASS', `${base}/fapi/v1/time answered in ${rtt} ms`),
    skewCheck('clock vs exchange', client.timeOffsetMs(), 'the exchange'),
  ];
}

export function credentialChecks(config: Readonly<Config>): CheckResult[] {
  const line = (name: string, variable: string, value: string | undefined): CheckResult =>
    value === undefined
      ? check(name, 'WARN', `${variable} missing: the brain cannot read positions without it`)
      : check(name, 'PASS', `${variable} set`);
  return [
    line('api key', 'BINANCE_API_KEY', config.binance.apiKey),
    line('api secret', 'BINANCE_API_SECRET', config.binance.apiSecret),
  ];
}
