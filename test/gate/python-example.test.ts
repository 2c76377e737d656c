/**
 * The Python Apply Layer example runs gate_consume.lua against the test Redis. It needs the
 * `redis` package (CI installs python3-redis); without it the Redis part SKIPS with the
 * reason printed, while the syntax check still runs whenever python3 exists.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openTestRedis } from '../helpers/redis.js';

const EXAMPLE = join(process.cwd(), 'examples/python/apply_gate_example.py');
// Prefer an interpreter that has redis-py: Debian's python3-redis installs for /usr/bin/python3,
// which may differ from the python3 first on PATH (pyenv, venvs).
const candidates = ['python3', '/usr/bin/python3'];
const PYTHON =
  candidates.find(
    (bin) => spawnSync(bin, ['-c', 'import redis'], { encoding: 'utf8' }).status === 0,
  ) ?? 'python3';
const python = spawnSync(PYTHON, ['--version'], { encoding: 'utf8' });
const hasPython = python.status === 0;
const probe = hasPython ? spawnSync(PYTHON, ['-c', 'import redis'], { encoding: 'utf8' }) : null;
const hasRedisPy = probe?.status === 0;
const skipReason = !hasPython
  ? 'python3 not found'
  : !hasRedisPy
    ? `python3 cannot import redis (${(probe?.stderr ?? '').trim().split('\n').pop() ?? ''}); install python3-redis to run it`
    : '';
if (skipReason !== '')
  process.stdout.write(`[python-example] SKIPPING the Redis part: ${skipReason}\n`);

describe.runIf(hasPython)('examples/python/apply_gate_example.py compiles', () => {
  it('is valid Python', () => {
    const run = spawnSync(PYTHON, ['-m', 'py_compile', EXAMPLE], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});

describe.runIf(hasRedisPy)('examples/python/apply_gate_example.py against Redis', () => {
  const t = openTestRedis('py');
  afterAll(() => t.close());
  const run = (plan: string, waitMs = 0) =>
    spawnSync(
      PYTHON,
      [
        EXAMPLE,
        '--redis-url',
        t.url,
        '--prefix',
        t.prefix,
        '--plan',
        plan,
        '--wait-ms',
        String(waitMs),
      ],
      {
        encoding: 'utf8',
      },
    );

  it('consumes both permits and prints safe_close_qty exactly', async () => {
    await t.redis.set(t.keys.permitGovernor('py-1'), '{"granted":true}');
    await t.redis.set(
      t.keys.permitP33('py-1'),
      '{"plan_id":"py-1","symbol":"BTCUSDT","allow":true,"safe_close_qty":0.100000000000000005551115123125}',
    );
    const result = run('py-1');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      ok: true,
      safe_close_qty: '0.100000000000000005551115123125',
      symbol: 'BTCUSDT',
    });
    expect(await t.redis.exists(t.keys.permitGovernor('py-1'), t.keys.permitP33('py-1'))).toBe(0);
  });

  it('refuses a deny permit and deletes nothing; exit 1', async () => {
    await t.redis.set(t.keys.permitGovernor('py-2'), '{"granted":true}');
    await t.redis.set(
      t.keys.permitP33('py-2'),
      '{"plan_id":"py-2","symbol":"BTCUSDT","allow":false,"reason":"no_position"}',
    );
    const result = run('py-2');
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({
      ok: false,
      code: 'missing_or_denied_p33_permit',
      p33_reason: 'no_position',
    });
    expect(await t.redis.exists(t.keys.permitGovernor('py-2'), t.keys.permitP33('py-2'))).toBe(2);
  });

  it('waits for a late P3.3 permit, after SCRIPT FLUSH too', async () => {
    await t.redis.script('FLUSH');
    await t.redis.set(t.keys.permitGovernor('py-3'), '{"granted":true}');
    const child = spawnSync(
      'sh',
      [
        '-c',
        `sleep 0.3; redis-cli -u ${t.url} SET ${t.keys.permitP33('py-3')} '{"plan_id":"py-3","symbol":"ETHUSDT","allow":true,"safe_close_qty":"2.5"}' >/dev/null & ${PYTHON} ${EXAMPLE} --redis-url ${t.url} --prefix ${t.prefix} --plan py-3 --wait-ms 5000`,
      ],
      { encoding: 'utf8' },
    );
    expect(child.status).toBe(0);
    expect(JSON.parse(child.stdout)).toMatchObject({ ok: true, safe_close_qty: '2.5' });
  });
});
