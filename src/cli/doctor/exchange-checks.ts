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

/**
 * The user-data stream's base (SPEC §3, LESSONS #22): since 2026-04-23 Binance serves USD-M
 * user data under the private base only; the retired `/ws` path connects and then stays
 * silent. A base whose path does not end in `/private` is almost certainly a pre-2026 value.
 */
export function userStreamBaseCheck(config: Readonly<Config>): CheckResult {
  const { wsUrl } = config.binance;
  let path: string;
  try {
    path = new URL(wsUrl).pathname.replace(/\/+$/, '');
  } catch {
    return check('user-data stream', 'FAIL', `BINANCE_WS_URL ${wsUrl} is not a URL`);
  }
  const enabled = config.brain.userStream ? 'P33_USER_STREAM=true' : 'P33_USER_STREAM=false';
  if (path.endsWith('/private')) return check('user-data stream', 'PASS', `${wsUrl} (${enabled})`);
  return check(
    'user-data stream',
    config.brain.userStream ? 'WARN' : 'PASS',
    `${wsUrl} is not a private base (…/private): Binance retired user data on the old paths on 2026-04-23 (they connect, then send nothing); unset BINANCE_WS_URL or set the private base (${enabled})`,
  );
}
