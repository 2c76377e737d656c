/**
 * BINANCE_ENV=production|testnet|demo (SPEC §3, §8): each environment's REST base and its
 * PRIVATE WebSocket base; BINANCE_TESTNET=true still means testnet; BINANCE_BASE_URL and
 * BINANCE_WS_URL override; a contradiction is a config error, never a guess.
 */
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';

const binance = (env: Record<string, string>) => loadConfig(env).binance;

function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('Binance environments', () => {
  it('each environment has its REST base and its private user-data base', () => {
    expect(binance({ BINANCE_ENV: 'production' })).toMatchObject({
      environment: 'production',
      testnet: false,
      baseUrl: 'https://fapi.binance.com',
      wsUrl: 'wss://fstream.binance.com/private',
    });
    expect(binance({ BINANCE_ENV: 'testnet' })).toMatchObject({
      environment: 'testnet',
      testnet: true,
      baseUrl: 'https://testnet.binancefuture.com',
      wsUrl: 'wss://fstream.binancefuture.com/private',
    });
    expect(binance({ BINANCE_ENV: 'demo' })).toMatchObject({
      environment: 'demo',
      testnet: false,
      baseUrl: 'https://demo-fapi.binance.com',
      wsUrl: 'wss://demo-fstream.binance.com/private',
    });
    expect(binance({ BINANCE_ENV: 'Production' }).environment).toBe('production');
  });

  it('without BINANCE_ENV, BINANCE_TESTNET decides (default true: testnet), on the private base too', () => {
    expect(binance({})).toMatchObject({
      environment: 'testnet',
      wsUrl: 'wss://fstream.binancefuture.com/private',
    });
    expect(binance({ BINANCE_TESTNET: 'true' }).environment).toBe('testnet');
    expect(binance({ BINANCE_TESTNET: 'false' })).toMatchObject({
      environment: 'production',
      baseUrl: 'https://fapi.binance.com',
      wsUrl: 'wss://fstream.binance.com/private',
    });
    expect(binance({ BINANCE_ENV: 'testnet', BINANCE_TESTNET: 'true' }).environment).toBe(
      'testnet',
    );
    expect(binance({ BINANCE_ENV: 'demo', BINANCE_TESTNET: 'false' }).environment).toBe('demo');
  });

  it('BINANCE_BASE_URL and BINANCE_WS_URL override the environment', () => {
    expect(
      binance({
        BINANCE_ENV: 'demo',
        BINANCE_BASE_URL: 'http://127.0.0.1:8090',
        BINANCE_WS_URL: 'ws://127.0.0.1:8090/private',
      }),
    ).toMatchObject({
      environment: 'demo',
      baseUrl: 'http://127.0.0.1:8090',
      wsUrl: 'ws://127.0.0.1:8090/private',
    });
  });

  it('an unknown environment, or one BINANCE_TESTNET contradicts, is a config error naming both', () => {
    expect(problemsOf({ BINANCE_ENV: 'mainnet' })).toMatch(
      /BINANCE_ENV="mainnet": expected one of production, testnet, demo/,
    );
    expect(problemsOf({ BINANCE_ENV: 'production', BINANCE_TESTNET: 'true' })).toMatch(
      /BINANCE_ENV=production contradicts BINANCE_TESTNET=true/,
    );
    expect(problemsOf({ BINANCE_ENV: 'testnet', BINANCE_TESTNET: 'false' })).toMatch(
      /BINANCE_ENV=testnet contradicts BINANCE_TESTNET=false/,
    );
  });

  it('BINANCE_ENV is one of the variables the code reads (the env files are checked against this list)', () => {
    expect(CONFIG_VARIABLES).toContain('BINANCE_ENV');
  });
});
