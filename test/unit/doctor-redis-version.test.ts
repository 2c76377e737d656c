/** doctor's judgement of the Redis version (pure; the PASS path runs against real Redis in test/cli/doctor.test.ts). */
import { describe, expect, it } from 'vitest';
import { redisVersionCheck } from '../../src/cli/doctor/redis-checks.js';

describe('doctor: redis version', () => {
  it('FAILs below 6.2', () => {
    expect(redisVersionCheck('6.0.16')).toMatchObject({ level: 'FAIL' });
    expect(redisVersionCheck('unknown')).toMatchObject({ level: 'FAIL' });
  });
  it('WARNs on 6.2 (no PEXPIRETIME: the engine cannot tell its holds from an operator SETEX)', () => {
    const result = redisVersionCheck('6.2.14');
    expect(result).toMatchObject({ level: 'WARN' });
    expect(result.message).toContain('PEXPIRETIME');
  });
  it('PASSes from 7.0', () => {
    expect(redisVersionCheck('7.0.15')).toMatchObject({ level: 'PASS' });
    expect(redisVersionCheck('7.2.4')).toMatchObject({ level: 'PASS' });
  });
});
