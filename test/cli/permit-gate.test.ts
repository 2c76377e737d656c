import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { assertBuilt, runCli } from './run-cli.js';

let t: TestRedis;
const env = (): Record<string, string> => ({ REDIS_URL: t.url, KEY_PREFIX: t.prefix });
const ALLOW =
  '{"plan_id":"p-1","symbol":"BTCUSDT","allow":true,"safe_close_qty":0.028,"exchange_position_amt":0.038,"ledger_position_amt":0.038,"snapshot_age_sec":1.2,"ts_epoch":1737672000}';

beforeAll(() => assertBuilt());
beforeEach(() => {
  t = openTestRedis('permit');
});
afterEach(() => t.close());

describe('posguard permit show', () => {
  it('decodes both permits with TTLs and says the gate would pass; consumes nothing', async () => {
    await t.redis.set(t.keys.permitP33('p-1'), ALLOW, 'EX', 60);
    await t.redis.set(t.keys.permitGovernor('p-1'), '{"granted":true}');
    const run = await runCli(['permit', 'show', 'p-1', '--json'], { env: env() });
    expect(run.code).toBe(0);
    const view = JSON.parse(run.stdout) as Record<string, Record<string, unknown>>;
    expect(view.p33).toMatchObject({
      state: 'ok',
      passes: true,
      decoded: { safe_close_qty: '0.028', allow: true },
    });
    expect(view.p33?.ttl_sec).toBeGreaterThan(55);
    expect(view.governor).toMatchObject({ state: 'ok', passes: true, ttl_sec: null });
    expect(view.gate_would_pass).toBe(true);
    expect(await t.redis.exists(t.keys.permitP33('p-1'), t.keys.permitGovernor('p-1'))).toBe(2);
  });

  it('reports a hash-typed permit (LESSONS #18) instead of crashing', async () => {
    await t.redis.hset(t.keys.permitP33('p-2'), { allow: 'true', safe_close_qty: '1' });
    const run = await runCli(['permit', 'show', 'p-2'], { env: env() });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/P3\.3 permit\s+\S+p-2\s+\(wrong_type\)/);
    expect(run.stdout).toMatch(/key is a hash, not a JSON string/);
    expect(run.stdout).toMatch(/governor permit\s+\S+\s+\(missing\)/);
    expect(run.stdout).toMatch(/would REFUSE/);
  });

  it('shows a deny permit with its reason', async () => {
    await t.redis.set(
      t.keys.permitP33('p-3'),
      '{"plan_id":"p-3","symbol":"BTCUSDT","allow":false,"reason":"cooldown_in_flight","details":{"cooldown_sec":15}}',
    );
    const run = await runCli(['permit', 'show', 'p-3', '--json'], { env: env() });
    expect(JSON.parse(run.stdout)).toMatchObject({
      p33: { passes: false, decoded: { reason: 'cooldown_in_flight' } },
    });
  });
});

describe('posguard gate consume', () => {
  it('exit 0 with safe_close_qty when both permits pass; then exit 1 (used)', async () => {
    await t.redis.set(t.keys.permitP33('p-1'), ALLOW);
    await t.redis.set(t.keys.permitGovernor('p-1'), '{"granted":"true"}');
    const run = await runCli(['gate', 'consume', 'p-1', '--json', '--wait-ms', '0'], {
      env: env(),
    });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      ok: true,
      safe_close_qty: '0.028',
      symbol: 'BTCUSDT',
    });
    expect(await t.redis.exists(t.keys.permitP33('p-1'), t.keys.permitGovernor('p-1'))).toBe(0);
    const again = await runCli(['gate', 'consume', 'p-1', '--wait-ms', '0'], { env: env() });
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/REFUSED p-1: missing_permit_or_redis/);
  });

  it('exit 1 with the P3.3 reason when denied, and the permits stay', async () => {
    await t.redis.set(
      t.keys.permitP33('p-2'),
      '{"plan_id":"p-2","symbol":"BTCUSDT","allow":false,"reason":"reconcile_hold_active"}',
    );
    await t.redis.set(t.keys.permitGovernor('p-2'), '{"granted":true}');
    const run = await runCli(['gate', 'consume', 'p-2', '--json'], { env: env() });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({
      plan_id: 'p-2',
      ok: false,
      code: 'missing_or_denied_p33_permit',
      p33_reason: 'reconcile_hold_active',
    });
    expect(await t.redis.exists(t.keys.permitP33('p-2'), t.keys.permitGovernor('p-2'))).toBe(2);
  });

  it('waits for a P3.3 permit that arrives late (GATE_WAIT_MS)', async () => {
    await t.redis.set(t.keys.permitGovernor('p-4'), '{"granted":true}');
    setTimeout(() => void t.redis.set(t.keys.permitP33('p-4'), ALLOW), 400);
    const run = await runCli(['gate', 'consume', 'p-4', '--json'], {
      env: { ...env(), GATE_WAIT_MS: '10000' },
    });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, safe_close_qty: '0.028' });
  });

  it('an unreachable Redis is a refusal (exit 1), never a crash, and the password is not printed', async () => {
    const run = await runCli(['gate', 'consume', 'p-5', '--json', '--wait-ms', '0'], {
      env: { REDIS_URL: 'redis://:Sup3rSecretPw@127.0.0.1:1', KEY_PREFIX: t.prefix },
    });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, code: 'missing_permit_or_redis' });
    expect(run.stdout + run.stderr).not.toContain('Sup3rSecretPw');
  });

  it('usage errors exit 2: bad plan id, bad --wait-ms, unknown command', async () => {
    expect((await runCli(['gate', 'consume', 'bad plan*'], { env: env() })).code).toBe(2);
    expect((await runCli(['gate', 'consume', 'p', '--wait-ms', 'soon'], { env: env() })).code).toBe(
      2,
    );
    expect((await runCli(['gate', 'swallow', 'p'], { env: env() })).code).toBe(2);
    expect((await runCli(['no-such-command'], { env: env() })).code).toBe(2);
  });
});
