import { describe, expect, it } from 'vitest';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { mergeEnv } from '../../src/config/env-file.js';
import { ConfigError } from '../../src/errors.js';

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
