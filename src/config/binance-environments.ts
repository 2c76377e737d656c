/**
 * Binance USD-M environments (SPEC §3, §8): the REST base and the PRIVATE WebSocket base
 * (user data; the client appends `/ws/<listenKey>`) of each. Where each value comes from,
 * and which ones the documentation did not show, is written down in
 * docs/position-state-brain.md ("Environments").
 *
 * Since 2026-04-23 Binance serves USD-M user data only under the `/private` base; the old
 * `wss://fstream.binance.com/ws/<listenKey>` still completes the handshake but sends
 * nothing (LESSONS #22).
 */
export const BINANCE_ENVIRONMENT_NAMES = ['production', 'testnet', 'demo'] as const;
export type BinanceEnvironment = (typeof BINANCE_ENVIRONMENT_NAMES)[number];

export interface BinanceBases {
  rest: string;
  /** The private base: user-data streams live at `${privateWs}/ws/<listenKey>`. */
  privateWs: string;
}

export const BINANCE_ENVIRONMENTS: Readonly<Record<BinanceEnvironment, BinanceBases>> = {
  production: { rest: 'https://fapi.binance.com', privateWs: 'wss://fstream.binance.com/private' },
  testnet: {
    rest: 'https://testnet.binancefuture.com',
    privateWs: 'wss://fstream.binancefuture.com/private',
  },
  demo: {
    rest: 'https://demo-fapi.binance.com',
    privateWs: 'wss://demo-fstream.binance.com/private',
  },
};

/**
 * BINANCE_ENV when given (case-insensitive), else BINANCE_TESTNET (default true: testnet;
 * false: production). An explicit BINANCE_TESTNET that contradicts BINANCE_ENV is a problem
 * (fail closed: never guess which account the operator meant).
 */
export function resolveBinanceEnvironment(input: {
  env: string | undefined;
  testnet: boolean;
  testnetGiven: boolean;
}): { environment: BinanceEnvironment; problem: string | null } {
  if (input.env === undefined) {
    return { environment: input.testnet ? 'testnet' : 'production', problem: null };
  }
  const name = input.env.toLowerCase();
  if (!(BINANCE_ENVIRONMENT_NAMES as readonly string[]).includes(name)) {
    return {
      environment: 'testnet',
      problem: `BINANCE_ENV=${JSON.stringify(input.env)}: expected one of ${BINANCE_ENVIRONMENT_NAMES.join(', ')}`,
    };
  }
  const environment = name as BinanceEnvironment;
  if (input.testnetGiven && input.testnet !== (environment === 'testnet')) {
    return {
      environment,
      problem:
        `BINANCE_ENV=${environment} contradicts BINANCE_TESTNET=${String(input.testnet)}: ` +
        'remove BINANCE_TESTNET (BINANCE_ENV wins only when they agree) or make them agree',
    };
  }
  return { environment, problem: null };
}
