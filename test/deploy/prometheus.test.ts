/**
 * The alert rules are valid, their unit tests pass, and those unit tests would notice a
 * broken alert: each alert, replaced by one that never fires or always fires, must make
 * `promtool test rules` fail (so every alert has a firing and a non-firing case).
 * The unit tests are two files: the several-instances alerts (SPEC §11) are evaluated
 * every 5 s, and promtool takes the evaluation interval from the test file.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasTool, repoPath, run, skipNotice } from './tools.js';

const RULES = repoPath('deploy/prometheus/posguard-alerts.yml');
const RULE_TESTS = [
  repoPath('deploy/prometheus/posguard-alerts.test.yml'),
  repoPath('deploy/prometheus/posguard-alerts-ha.test.yml'),
];
const SCRAPE = repoPath('deploy/prometheus/prometheus-scrape.yml');

const promtool = hasTool('promtool');
if (!promtool) {
  skipNotice('promtool', 'the Prometheus rule checks', 'apt-get install prometheus');
}

function alertNames(rulesText: string): string[] {
  return [...rulesText.matchAll(/^\s*- alert:\s*(\w+)\s*$/gm)].map((m) => m[1] ?? '');
}

/** Replaces the `expr:` of one alert (single line or folded block) with `expr`. */
function replaceExpr(rulesText: string, alert: string, expr: string): string {
  const lines = rulesText.split('\n');
  const start = lines.findIndex((line) => line.trim() === `- alert: ${alert}`);
  if (start < 0) throw new Error(`alert ${alert} not found`);
  const exprAt = lines.findIndex((line, i) => i > start && /^\s*expr:/.test(line));
  const line = lines[exprAt] ?? '';
  const indent = line.length - line.trimStart().length;
  let end = exprAt + 1;
  if (/expr:\s*>-?\s*$/.test(line)) {
    while (end < lines.length) {
      const next = lines[end] ?? '';
      if (next.trim() !== '' && next.length - next.trimStart().length <= indent) break;
      end += 1;
    }
  }
  lines.splice(exprAt, end - exprAt, `${' '.repeat(indent)}expr: '${expr}'`);
  return lines.join('\n');
}

describe.skipIf(!promtool)('Prometheus alert rules (promtool)', () => {
  const rulesText = readFileSync(RULES, 'utf8');
  const alerts = alertNames(rulesText);
  const scratch = mkdtempSync(join(tmpdir(), 'pg-rules-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('has the seed alerts and the posguard ones', () => {
    expect(alerts).toEqual(
      expect.arrayContaining([
        'P34HoldActive',
        'P34RepeatedDrift',
        'PosguardBrainDown',
        'PosguardReconcileDown',
        'PosguardReconcileCycleStale',
        'PosguardPermitsDeniedEngineDown',
        'P33SnapshotStale',
        'P33PermitDenySpike',
        'P33ExchangeErrors',
        'P33ExchangeRateLimited',
        // several instances (SPEC §11)
        'PosguardNoReconcileLeader',
        'PosguardNoBrainPollerLeader',
        'PosguardLeaderFlapping',
        'PosguardFencedWrites',
        'PosguardInstanceDown',
      ]),
    );
    expect(new Set(alerts).size).toBe(alerts.length);
  });

  it('keeps the seed expressions of P34HoldActive and P34RepeatedDrift', () => {
    expect(rulesText).toMatch(/expr: p34_reconcile_hold_active == 1\n\s+for: 5m/);
    expect(rulesText).toMatch(/expr: rate\(p34_reconcile_drift_total\[5m\]\) > 0\.1\n\s+for: 10m/);
  });

  it('passes promtool check rules', async () => {
    const result = await run('promtool', ['check', 'rules', RULES]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(`SUCCESS: ${alerts.length} rules found`);
  });

  it('passes promtool check config on the scrape example (which loads the rules)', async () => {
    const result = await run('promtool', ['check', 'config', SCRAPE]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const scrape = readFileSync(SCRAPE, 'utf8');
    expect(scrape).toMatch(/job_name: posguard-brain[\s\S]*targets: \['127\.0\.0\.1:8045'\]/);
    expect(scrape).toMatch(/job_name: posguard-reconcile[\s\S]*targets: \['127\.0\.0\.1:8046'\]/);
    // the leader alerts (for: 10s) need the posguard jobs scraped every 5 s
    expect(scrape).toMatch(/job_name: posguard-brain\n\s+scrape_interval: 5s\n/);
    expect(scrape).toMatch(/job_name: posguard-reconcile\n\s+scrape_interval: 5s\n/);
  });

  it.each(RULE_TESTS)('passes its unit tests (promtool test rules %s)', async (file) => {
    const result = await run('promtool', ['test', 'rules', file]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
  });

  it('evaluates the several-instances alerts every 5 s, as their unit tests do', () => {
    const group = /- name: posguard-ha\n\s+interval: (\S+)\n/.exec(rulesText);
    expect(group?.[1]).toBe('5s');
    expect(readFileSync(RULE_TESTS[1] ?? '', 'utf8')).toMatch(/^evaluation_interval: 5s$/m);
  });

  it('tests every alert both firing and not firing (each mutation breaks the unit tests)', async () => {
    const testsText = RULE_TESTS.map((file) => readFileSync(file, 'utf8')).join('\n');
    // Each mutation runs the unit-test files that test that alert.
    const mutate = async (alert: string, expr: string, label: string): Promise<string | null> => {
      const dir = mkdtempSync(join(scratch, `${alert}-${label}-`));
      writeFileSync(join(dir, 'posguard-alerts.yml'), replaceExpr(rulesText, alert, expr));
      const files = RULE_TESTS.filter((file) =>
        readFileSync(file, 'utf8').includes(`alertname: ${alert}\n`),
      ).map((file) => {
        copyFileSync(file, join(dir, basename(file)));
        return basename(file);
      });
      expect(files, `no unit-test file tests ${alert}`).not.toEqual([]);
      const result = await run('promtool', ['test', 'rules', ...files], { cwd: dir });
      return result.code === 0 ? `${alert} ${label}` : null;
    };
    const survivors = await Promise.all(
      alerts.flatMap((alert) => {
        expect(testsText, `no firing case for ${alert}`).toMatch(
          new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`),
        );
        expect(testsText, `no non-firing case for ${alert}`).toMatch(
          new RegExp(`alertname: ${alert}\\n\\s+exp_alerts: \\[\\]`),
        );
        return [
          mutate(alert, 'vector(1) == 0', 'never-fires'),
          mutate(alert, 'vector(1)', 'always-fires'),
        ];
      }),
    );
    expect(survivors.filter((s) => s !== null)).toEqual([]);
  }, 120_000);
});

describe('alerts ↔ runbook', () => {
  const rulesText = readFileSync(RULES, 'utf8');
  const runbook = readFileSync(repoPath('docs/operations.md'), 'utf8');

  it('every alert links a runbook section that exists', () => {
    const links = [...rulesText.matchAll(/runbook: docs\/operations\.md#([a-z0-9-]+)/g)].map(
      (m) => m[1],
    );
    expect(links.length).toBe(alertNames(rulesText).length);
    const anchors = new Set([...runbook.matchAll(/<a id="([a-z0-9-]+)"><\/a>/g)].map((m) => m[1]));
    expect(links.filter((link) => !anchors.has(link))).toEqual([]);
  });

  it('every in-page link of the runbook resolves', () => {
    const anchors = new Set([...runbook.matchAll(/<a id="([a-z0-9-]+)"><\/a>/g)].map((m) => m[1]));
    const links = [...runbook.matchAll(/\]\(#([a-z0-9-]+)\)/g)].map((m) => m[1]);
    expect(links.length).toBeGreaterThan(20);
    expect(links.filter((link) => !anchors.has(link))).toEqual([]);
  });

  it('every alert has a row in the runbook alert → action table', () => {
    const missing = alertNames(rulesText).filter((alert) => !runbook.includes(`| \`${alert}\` |`));
    expect(missing).toEqual([]);
  });
});
