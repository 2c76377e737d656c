/**
 * Figures measured by the reliability and security suites. Each test file records its
 * rows with `recordFigure`; they are merged into `.tmp/reliability/figures.json` (one key
 * per file and row), printed, and copied by hand into docs/reliability.md. Nothing here
 * invents a number: every value comes from a measurement in the calling test.
 */
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

export interface FigureRow {
  /** The fault injected, as the doc's table names it. */
  fault: string;
  /** Test file and test name that produced the row. */
  test: string;
  iterations: number;
  observed: string;
  /** Items lost (must be 0); the test asserts it before recording. */
  lost: number;
  /** Recovery times in ms, when the fault has a recovery. */
  recoveryMs?: readonly number[];
  extra?: Record<string, unknown>;
}

export const FIGURES_DIR = join(process.cwd(), '.tmp', 'reliability');

function summary(values: readonly number[]): { median: number; max: number; n: number } | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median: Math.round(median), max: Math.round(sorted.at(-1) as number), n: sorted.length };
}

/** Writes one row to `.tmp/reliability/<file>.json` and prints it. */
export function recordFigure(file: string, row: FigureRow): void {
  mkdirSync(FIGURES_DIR, { recursive: true });
  const path = join(FIGURES_DIR, `${file}.json`);
  let existing: Record<string, unknown>;
  try {
    existing = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    existing = {};
  }
  const entry = {
    ...row,
    recoveryMs: undefined,
    recovery: row.recoveryMs ? summary(row.recoveryMs) : null,
    measuredAt: new Date().toISOString(),
  };
  existing[row.fault] = entry;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(existing, null, 2)}\n`);
  renameSync(tmp, path);
  process.stdout.write(`[reliability] ${file}: ${JSON.stringify(entry)}\n`);
}

export { summary as summariseMs };
