import { describe, expect, it } from 'vitest';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { mergeEnv } from '../../src/config/env-file.js';
import { ConfigError } from '../../src/errors.js';
import { configView } from '../../src/cli/doctor/config-view.js';

describe('config (SPEC §8, LESSONS #14)', () => {
  it('uses the seeds defaults', () => {
    const c = loadConfig({});
    expect(c.reconcile).toMatchObject({
      allowlist: ['BTCUSDT'],
      cadenceSec: 1,
      exchangeFreshnessSec: 10,
      qtyDriftTolerancePct: 1,
      evidenceWindowSec: 300,
      holdTtlSec: 300,
      metricsPort: 8046,
      metricsHost: '127.0.0.1',
    });
    expect(c.brain).toMatchObject({
      pollSec: 5,
      staleThresholdSec: 10,
      cooldownSec: 15,
      qtyTolerancePct: 1,
      permitTtlSec: 60,
      metricsPort: 8045,
    });
    expect(c.keys.prefix).toBe('quantum');
    expect(c.redis.url).toBe('redis://localhost:6379');
  });

  it('accepts decimal seconds (P33_POLL_SEC=0.5 crashed the old service)', () => {
    expect(loadConfig({ P33_POLL_SEC: '0.5' }).brain.pollSec).toBe(0.5);
  });

  it('reports every bad variable at once, naming the expected form', () => {
    try {
      loadConfig({
        P33_POLL_SEC: 'fast',
        P34_ALLOWLIST: 'BTCUSDT,btc:*',
        REDIS_PORT: '99999',
        P34_LOG_LEVEL: 'LOUD',
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).toMatch(/P33_POLL_SEC=.*seconds/);
      expect(problems).toMatch(/P34_ALLOWLIST/);
      expect(problems).toMatch(/REDIS_PORT/);
      expect(problems).toMatch(/P34_LOG_LEVEL/);
      expect((error as ConfigError).problems).toHaveLength(4);
    }
  });

  it('lets REDIS_URL win over host/port and keeps ACL credentials', () => {
    const c = loadConfig({ REDIS_URL: 'rediss://user:pw@example:6380', REDIS_HOST: 'other' });
    expect(c.redis.url).toBe('rediss://user:pw@example:6380');
  });

  it('never reports a secret in a problem message', () => {
    try {
      loadConfig({ REDIS_URL: 'http://user:topsecret@host' });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain('topsecret');
    }
  });

  it('reads the seeds env-file format, with inline comments; the environment wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-env-'));
    const file = join(dir, 'reconcile-engine.env');
    writeFileSync(
      file,
      '# P3.4\nP34_ALLOWLIST=BTCUSDT,ETHUSDT\nP34_LOOP_CADENCE_SEC=1.0   # seconds\nP34_HOLD_TTL_SEC=300\n',
    );
    const c = loadConfig(mergeEnv({ P34_HOLD_TTL_SEC: '60' }, file));
    expect(c.reconcile.allowlist).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(c.reconcile.holdTtlSec).toBe(60);
  });

  it('is frozen', () => {
    const c = loadConfig({});
    expect(Object.isFrozen(c.reconcile)).toBe(true);
  });
});

describe('Redis Sentinel and credentials (SPEC §11)', () => {
  const sentinelEnv = {
    REDIS_SENTINELS: '10.0.0.1:26379, sentinel-b.internal:26380,[::1]:26381',
    REDIS_SENTINEL_MASTER: 'posguard-main',
  };

  it('connects to one server by default: no Sentinel, no replica acknowledgement', () => {
    expect(loadConfig({}).redis).toEqual({
      url: 'redis://localhost:6379',
      db: 0,
      sentinel: null,
      minReplicasAck: 0,
      replicaWaitMs: 500,
    });
  });

  it('reads the sentinels, the master name and both passwords', () => {
    const c = loadConfig({
      ...sentinelEnv,
      REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
      REDIS_USERNAME: 'posguard',
      REDIS_PASSWORD: 'data-pw',
      REDIS_DB: '2',
      REDIS_MIN_REPLICAS_ACK: '1',
      REDIS_REPLICA_WAIT_MS: '250',
    });
    expect(c.redis.sentinel).toEqual({
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: 'sentinel-b.internal', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      masterName: 'posguard-main',
      username: 'posguard',
      password: 'data-pw',
      sentinelPassword: 'sentinel-pw',
    });
    expect(c.redis.db).toBe(2);
    expect(c.redis.minReplicasAck).toBe(1);
    expect(c.redis.replicaWaitMs).toBe(250);
    // `url` only describes the set-up in messages; it carries no credentials
    expect(c.redis.url).toBe(
      'redis-sentinel://posguard-main?sentinels=10.0.0.1:26379,sentinel-b.internal:26380,[::1]:26381',
    );
  });

  it('puts REDIS_USERNAME/REDIS_PASSWORD into the URL built from REDIS_HOST/REDIS_PORT', () => {
    const c = loadConfig({ REDIS_HOST: 'db', REDIS_USERNAME: 'app', REDIS_PASSWORD: 'p@ss:w/rd' });
    expect(c.redis.url).toBe('redis://app:p%40ss%3Aw%2Frd@db:6379');
    expect(new URL(c.redis.url).password).toBe('p%40ss%3Aw%2Frd');
    expect(loadConfig({ REDIS_PASSWORD: 'pw' }).redis.url).toBe('redis://:pw@localhost:6379');
  });

  it('reports every Sentinel problem at once, naming the variables', () => {
    let problems: readonly string[] = [];
    try {
      loadConfig({
        REDIS_SENTINELS: '10.0.0.1:26379,sentinel-b,c:99999,:26379,,d:0',
        REDIS_URL: 'redis://cache:6379',
        REDIS_MIN_REPLICAS_ACK: '-1',
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      problems = (error as ConfigError).problems;
    }
    const text = problems.join('\n');
    expect(text).toMatch(
      /REDIS_SENTINELS=.*host:port.*invalid: sentinel-b, c:99999, :26379, \(empty\), d:0/,
    );
    expect(text).toMatch(/REDIS_SENTINEL_MASTER.*required.*REDIS_SENTINELS/);
    expect(text).toMatch(/REDIS_URL.*REDIS_SENTINELS|REDIS_SENTINELS.*REDIS_URL/);
    expect(text).toMatch(/REDIS_MIN_REPLICAS_ACK=.*integer/);
    expect(problems).toHaveLength(4);
  });

  it('refuses Sentinel settings without REDIS_SENTINELS, and credentials twice', () => {
    const problemsOf = (env: Record<string, string>): string => {
      try {
        loadConfig(env);
      } catch (error) {
        return (error as ConfigError).problems.join('\n');
      }
      return '';
    };
    expect(problemsOf({ REDIS_SENTINEL_MASTER: 'posguard' })).toMatch(
      /REDIS_SENTINEL_MASTER.*only with REDIS_SENTINELS/,
    );
    expect(problemsOf({ REDIS_SENTINEL_PASSWORD: 'x' })).toMatch(
      /REDIS_SENTINEL_PASSWORD.*only with REDIS_SENTINELS/,
    );
    expect(problemsOf({ REDIS_URL: 'redis://:a@h:6379', REDIS_PASSWORD: 'b' })).toMatch(
      /REDIS_PASSWORD.*REDIS_URL/,
    );
    expect(problemsOf({ REDIS_URL: 'redis://h:6379', REDIS_USERNAME: 'u' })).toMatch(
      /REDIS_USERNAME.*REDIS_URL/,
    );
    expect(problemsOf({ ...sentinelEnv, REDIS_SENTINEL_MASTER: 'two words' })).toMatch(
      /REDIS_SENTINEL_MASTER=.*letters, digits/,
    );
    for (const bad of ['1.5', 'x', '17']) {
      expect(problemsOf({ REDIS_MIN_REPLICAS_ACK: bad })).toMatch(/REDIS_MIN_REPLICAS_ACK/);
    }
    // WAIT 0 blocks for ever: a timeout of at least 1 ms, at most 10 s
    for (const bad of ['0', '2.5', '10001']) {
      expect(problemsOf({ REDIS_REPLICA_WAIT_MS: bad })).toMatch(/REDIS_REPLICA_WAIT_MS=.*integer/);
    }
    // REDIS_HOST/REDIS_PORT keep their defaults in the env files and are ignored with Sentinel
    expect(problemsOf({ ...sentinelEnv, REDIS_HOST: 'localhost', REDIS_PORT: '6379' })).toBe('');
  });

  it('never reports a password in a problem message', () => {
    const env = {
      REDIS_URL: 'redis://h:6379',
      REDIS_PASSWORD: 'topsecret-data',
      REDIS_SENTINEL_PASSWORD: 'topsecret-sentinel',
    };
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(/REDIS_PASSWORD[^]*REDIS_SENTINEL_PASSWORD/);
    expect(() => loadConfig(env)).not.toThrow(/topsecret/);
  });
});

describe('doctor --json view of the Redis settings', () => {
  it('shows Sentinel passwords as set/missing, never their values', () => {
    const view = configView(
      loadConfig({
        REDIS_SENTINELS: '10.0.0.1:26379',
        REDIS_SENTINEL_MASTER: 'posguard',
        REDIS_PASSWORD: 'data-secret-1',
        REDIS_SENTINEL_PASSWORD: 'sentinel-secret-2',
      }),
    );
    const text = JSON.stringify(view);
    expect(text).not.toContain('secret-1');
    expect(text).not.toContain('secret-2');
    expect(view.redis.sentinel).toMatchObject({
      masterName: 'posguard',
      password: 'set',
      sentinelPassword: 'set',
      username: 'missing',
    });
  });
});
