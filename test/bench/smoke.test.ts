/**
 * The benchmark harness runs end to end in its tiny mode (seconds) and produces
 * well-formed results: every scenario present and successful, counts that must hold
 * whatever the machine (no plan left without a permit, ledgers exact, round trips per
 * reconcile cycle independent of the symbol count), and the docs table between its
 * markers. No timing is asserted: figures from a tiny run mean nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SCENARIO_NAMES, TABLE_BEGIN, TABLE_END, spliceTable } from '../../bench/report.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ENTRY = join(ROOT, 'dist', 'bench', 'run.js');

const summary = z.object({
  n: z.number().int().positive(),
  min: z.number(),
  p50: z.number(),
  p99: z.number(),
  max: z.number(),
});
const finite = z.number().refine(Number.isFinite);

const scenario = z.object({ ok: z.literal(true), seconds: finite, result: z.unknown() });

const resultsSchema = z.object({
  schema: z.literal(1),
  mode: z.literal('tiny'),
  machine: z.object({
    cores: z.number().int().positive(),
    cpuModel: z.string().min(1),
    node: z.string(),
    redis: z.string().regex(/^\d+\.\d+/),
    date: z.string(),
  }),
  floors: z.object({ pingRttMs: summary, notificationMs: summary }),
  scenarios: z.object({
    'plan-permit': scenario,
    reconcile: scenario,
    detection: scenario,
    'snapshot-poll': scenario,
    ledger: scenario,
    memory: scenario,
    'fill-refresh': scenario,
    web: scenario,
  }),
});

const planRun = z.object({
  load: z.string(),
  product: z.object({
    sent: z.number().int().positive(),
    answered: z.number().int(),
    missing: z.number().int(),
    latencyMs: summary,
    outcomes: z.record(z.string(), z.number()),
  }),
  floor: z.object({
    sent: z.number().int().positive(),
    missing: z.number().int(),
    latencyMs: summary,
  }),
});
const reconcileSize = z.object({
  symbols: z.number().int().positive(),
  durationMs: summary,
  roundTripsPerCycle: z.object({ min: z.number().int(), max: z.number().int() }),
  commandsPerCycle: z.object({ min: z.number().int(), max: z.number().int() }),
  statuses: z.record(z.string(), z.number()),
  commitErrors: z.number().int(),
  floorReplayMs: summary,
});
const detectionMode = z.object({
  mode: z.string(),
  latencyMs: summary,
  missed: z.number().int(),
  holdReasons: z.record(z.string(), z.number()),
});
const ledger = z.object({
  fills: z.number().int().positive(),
  fillsPerSec: finite,
  verified: z.object({ ledgersExact: z.boolean(), versionsExact: z.boolean() }),
});
const poll = z.object({
  symbols: z.number().int(),
  requestsPerPoll: z.number().int(),
  snapshotsWritten: z.number().int(),
  durationMs: summary,
});
const memory = z.object({
  services: z.array(
    z.object({ service: z.string(), samples: z.array(z.object({ rssMb: finite })).min(2) }),
  ),
});

describe('benchmark harness (tiny mode)', () => {
  let dir: string;
  let results: z.infer<typeof resultsSchema>;
  let docs: string;

  beforeAll(() => {
    if (!existsSync(ENTRY)) {
      const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      if (!existsSync(ENTRY))
        throw new Error(`build did not produce ${ENTRY}: ${build.stdout}${build.stderr}`);
    }
    dir = mkdtempSync(join(tmpdir(), 'posguard-bench-'));
    writeFileSync(
      join(dir, 'performance.md'),
      `# Performance\n\nProse before.\n\n${TABLE_BEGIN}\nold table\n${TABLE_END}\n\nProse after.\n`,
    );
    const run = spawnSync(process.execPath, [ENTRY, '--tiny', '--out-dir', dir], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 170_000,
    });
    if (run.status !== 0)
      throw new Error(`bench --tiny exited ${run.status}: ${run.stdout}\n${run.stderr}`);
    results = resultsSchema.parse(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));
    docs = readFileSync(join(dir, 'performance.md'), 'utf8');
  }, 180_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers every plan with a permit, product and floor alike', () => {
    const runs = z
      .object({ runs: z.array(planRun).min(2) })
      .parse(results.scenarios['plan-permit'].result).runs;
    for (const run of runs) {
      expect(run.product.missing).toBe(0);
      expect(run.product.answered).toBe(run.product.sent);
      expect(run.floor.missing).toBe(0);
      // The fixtures make plans allowable: fresh snapshots, ledgers, lot sizes, heartbeat.
      expect(run.product.outcomes.allow).toBe(run.product.sent);
    }
  });

  it('counts the same Redis round trips per reconcile cycle at every size', () => {
    const sizes = z.array(reconcileSize).min(2).parse(results.scenarios.reconcile.result);
    const trips = new Set(
      sizes.flatMap((s) => [s.roundTripsPerCycle.min, s.roundTripsPerCycle.max]),
    );
    expect(trips.size).toBe(1);
    // …while the commands grow with the symbols (they are pipelined, not round trips).
    expect(sizes[1]!.commandsPerCycle.max).toBeGreaterThan(sizes[0]!.commandsPerCycle.max);
    for (const s of sizes) {
      expect(s.commitErrors).toBe(0);
      expect(Object.values(s.statuses).reduce((a, b) => a + b, 0)).toBe(s.symbols);
      expect(s.statuses.HOLD).toBeGreaterThan(0); // the drifting fixtures are held
    }
  });

  it('detects the external trade in every mode, as a hold without evidence', () => {
    const modes = z.array(detectionMode).length(3).parse(results.scenarios.detection.result);
    for (const m of modes) {
      expect(m.missed).toBe(0);
      expect(m.latencyMs.min).toBeGreaterThan(0);
      expect(Object.keys(m.holdReasons)).toEqual(['qty_mismatch_no_evidence']);
    }
  });

  it('polls with one request and writes every symbol', () => {
    const r = poll.parse(results.scenarios['snapshot-poll'].result);
    expect(r.requestsPerPoll).toBe(1);
    expect(r.snapshotsWritten).toBe(r.symbols);
  });

  it('applies every fill exactly once', () => {
    const r = ledger.parse(results.scenarios.ledger.result);
    expect(r.verified).toEqual(
      expect.objectContaining({ ledgersExact: true, versionsExact: true }),
    );
  });

  it('records every scenario the harness knows', () => {
    expect(Object.keys(results.scenarios).sort()).toEqual([...SCENARIO_NAMES].sort());
  });

  it('measures the web page in chromium, or says why it could not', () => {
    const r = z
      .object({
        skipped: z.string().nullable(),
        holdVisible: z.array(z.object({ latencyMs: summary.nullable() })),
        pageLoadMs: summary.nullable(),
      })
      .parse(results.scenarios.web.result);
    if (r.skipped !== null) return;
    expect(r.holdVisible.length).toBeGreaterThan(0);
    expect(r.holdVisible.every((h) => h.latencyMs !== null && h.latencyMs.min > 0)).toBe(true);
    expect(r.pageLoadMs?.n).toBeGreaterThan(0);
  });

  it('samples the memory of both services', () => {
    const r = memory.parse(results.scenarios.memory.result);
    expect(r.services.map((s) => s.service).sort()).toEqual(['brain', 'reconcile']);
  });

  it('replaces the table between the markers and keeps the prose around it', () => {
    expect(docs).toContain('Prose before.');
    expect(docs).toContain('Prose after.');
    expect(docs).not.toContain('old table');
    expect(docs.indexOf(TABLE_BEGIN)).toBeLessThan(docs.indexOf('### Reconcile cycle'));
    expect(docs.indexOf('### Reconcile cycle')).toBeLessThan(docs.indexOf(TABLE_END));
    expect(docs.split(TABLE_BEGIN)).toHaveLength(2);
  });
});

describe('spliceTable', () => {
  it('appends the block when the markers are missing, and a rerun replaces it', () => {
    const once = spliceTable('# Doc\n\ntext\n', 'table one');
    expect(once).toContain(`${TABLE_BEGIN}\ntable one\n${TABLE_END}`);
    const twice = spliceTable(once, 'table two');
    expect(twice).not.toContain('table one');
    expect(twice.split(TABLE_BEGIN)).toHaveLength(2);
    expect(twice.startsWith('# Doc\n\ntext\n')).toBe(true);
  });
});
