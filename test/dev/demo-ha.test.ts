/**
 * `posguard demo --scenario ha --headless` on real processes (the built CLI; it starts its
 * own Sentinel set-up, two brains and two engines as child processes, the venue and the
 * pipeline), as short as the scenario allows (`--duration 5`: the shortest pauses; every
 * fault still runs in full).
 *
 * - As is: every fault narrated and survived, the invariants hold, RESULT: PASS, exit 0.
 * - With `--sabotage external-trade,apply-twice` (a trade on the venue no fill reports, and
 *   one allowed close sent twice by the Apply Layer): the same faults are survived, yet the
 *   run FAILs naming exactly those two broken invariants, exit 1 — the verdict is computed
 *   from what the run observed, not printed.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI, assertCliBuilt } from '../../src/dev/cli-process.js';

interface DemoRun {
  code: number | null;
  out: string;
}

function runDemo(extra: readonly string[]): Promise<DemoRun> {
  assertCliBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [CLI, 'demo', '--scenario', 'ha', '--headless', '--duration', '5', ...extra],
      { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' } },
    );
    const chunks: string[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c.toString()));
    child.stderr.on('data', (c: Buffer) => chunks.push(c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out: chunks.join('') }));
  });
}

const FAULTS = ['kill-reconcile-leader', 'pause-poller-leader', 'redis-failover'];

function expectFaultsSurvived(out: string): void {
  expect(out).toMatch(/FAULT 1\/3: SIGKILL the reconcile leader/);
  expect(out).toMatch(/FAULT 2\/3: SIGSTOP the brain-poller leader/);
  expect(out).toMatch(/FAULT 3\/3: SENTINEL FAILOVER/);
  for (const fault of FAULTS) expect(out).toContain(`[SURVIVED] ${fault}:`);
  expect(out).not.toContain('NOT SURVIVED');
}

describe('posguard demo --scenario ha (real processes)', () => {
  it('survives a killed leader, a paused leader and a Redis failover: RESULT: PASS, exit 0', async () => {
    const run = await runDemo([]);
    if (run.code !== 0) console.error(run.out);
    expectFaultsSurvived(run.out);
    expect(run.out).toMatch(/plans the gate answered ALLOW twice: 0\n/);
    expect(run.out).toMatch(/plans with two orders on the venue: 0 /);
    const ledgers = run.out.split('\n').filter((l) => /^ {2}[A-Z0-9]+USDT: ledger /.test(l));
    expect(ledgers).toHaveLength(2);
    for (const line of ledgers) expect(line).toMatch(/ledger (\S+) = venue \1;/);
    expect(run.out).toContain('RESULT: PASS');
    expect(run.code).toBe(0);
  }, 180_000);

  it('FAILs, naming them, when an invariant is broken on purpose although every fault was survived', async () => {
    const run = await runDemo(['--sabotage', 'external-trade,apply-twice']);
    expectFaultsSurvived(run.out);
    expect(run.out).not.toContain('RESULT: PASS');
    expect(run.out).toContain('RESULT: FAIL');
    const failures = run.out
      .slice(run.out.indexOf('RESULT: FAIL'))
      .split('\n')
      .filter((l) => l.startsWith('  - '));
    expect(failures).toHaveLength(2);
    expect(failures.join('\n')).toMatch(/1 plan\(s\) with two orders on the venue: \S+ ×2/);
    expect(failures.join('\n')).toMatch(/ETHUSDT: ledger \S+ ≠ venue position \S+/);
    expect(run.code).toBe(1);
  }, 180_000);
});
