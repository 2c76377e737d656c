/** SPEC §11: the default timings let a takeover finish before the reconcile heartbeat lapses. */
import { describe, expect, it } from 'vitest';
import { takeoverCheck } from '../../src/cli/commands/doctor.js';
import { loadConfig } from '../../src/config/config.js';
import { takeoverBudget } from '../../src/domain/leadership.js';
import { heartbeatTtlMs } from '../../src/domain/reconcile-heartbeat.js';

describe('takeover budget', () => {
  it('defaults fit: 3000 ms lease + 1 s cadence + 1 s margin ≤ the 5 s heartbeat', () => {
    expect(takeoverBudget(3000, 1, heartbeatTtlMs(1))).toEqual({
      worstGapMs: 5000,
      heartbeatTtlMs: 5000,
      ok: true,
    });
    const c = loadConfig({});
    expect(takeoverCheck(c)).toMatchObject({ level: 'PASS', name: 'takeover' });
  });

  it('a lease the heartbeat cannot cover is a doctor WARN naming the value that fits', () => {
    expect(takeoverBudget(8000, 1, heartbeatTtlMs(1)).ok).toBe(false);
    const c = loadConfig({ POSGUARD_LEASE_MS: '8000' });
    const result = takeoverCheck(c);
    expect(result.level).toBe('WARN');
    expect(result.message).toMatch(
      /reconcile_engine_down.*fix: lower POSGUARD_LEASE_MS to ≤ 3000$/,
    );
    // a slower cadence gives the heartbeat a longer life (3 × cadence), and room for the lease
    expect(
      takeoverCheck(loadConfig({ POSGUARD_LEASE_MS: '8000', P34_LOOP_CADENCE_SEC: '5' })).level,
    ).toBe('PASS');
  });
});
