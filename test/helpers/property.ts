/**
 * Property tests that keep what they found (NautilusTrader commits its failing seeds):
 * `assertProperty` is `fc.assert` that first replays every counterexample committed for
 * this property in test/property-seeds.json, then runs the random search.
 *
 * When the random search fails, the message ends with the entry to commit, e.g.
 *
 *   Keep this counterexample: add {"seed": -1819918769, "path": "0:1:0"} to the list under
 *   "test/unit/drift.property.test.ts > drift > never repairs a side mismatch" in
 *   test/property-seeds.json
 *
 * Add it (a list per property; the key is the test file and the test's full name, with
 * " #2", " #3"… for a test's second, third… property), fix the bug, and the replay keeps
 * the bug found in every later run. Renaming a test renames its key. A committed seed
 * replays the same generated values only while the property's arbitraries stay the same;
 * after changing them, re-check the seeds. `POSGUARD_TEST_SEED` also fixes the random
 * search's seed (see seeded-random.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { expect } from 'vitest';
import { currentTestFile, replaySeed } from './seeded-random.js';

export interface StoredSeed {
  seed: number;
  path?: string;
  /** Why it is kept (the bug it found). */
  note?: string;
}

export const PROPERTY_SEEDS_FILE = 'test/property-seeds.json';

function loadSeeds(): Record<string, StoredSeed[]> {
  const text = readFileSync(join(process.cwd(), PROPERTY_SEEDS_FILE), 'utf8');
  return JSON.parse(text) as Record<string, StoredSeed[]>;
}

const calls = new Map<string, number>();

/** `<test file> > <describe…> > <test>`, plus ` #n` for the n-th property of one test. */
export function propertyKey(): string {
  const base = `${currentTestFile()} > ${expect.getState().currentTestName ?? '<outside a test>'}`;
  const n = (calls.get(base) ?? 0) + 1;
  calls.set(base, n);
  return n === 1 ? base : `${base} #${n}`;
}

interface Run<Ts> {
  params: fc.Parameters<Ts>;
  replay: StoredSeed | null;
}

/** The committed replays first, then the random search. */
function runsFor<Ts>(params: fc.Parameters<Ts>, stored: readonly StoredSeed[]): Run<Ts>[] {
  const seed = replaySeed();
  return [
    ...stored.map((s) => ({
      params: { ...params, seed: s.seed, ...(s.path === undefined ? {} : { path: s.path }) },
      replay: s,
    })),
    { params: seed === null ? params : { ...params, seed }, replay: null },
  ];
}

function failure<Ts>(key: string, run: Run<Ts>, details: fc.RunDetails<Ts>): Error | null {
  if (!details.failed) return null;
  const report = fc.defaultReportMessage(details) ?? 'property failed';
  const hint = run.replay
    ? `A counterexample committed in ${PROPERTY_SEEDS_FILE} under "${key}" still fails` +
      (run.replay.note ? ` (${run.replay.note})` : '')
    : `Keep this counterexample: add ${JSON.stringify({ seed: details.seed, path: details.counterexamplePath })}` +
      ` to the list under "${key}" in ${PROPERTY_SEEDS_FILE}`;
  return new Error(`${report}\n\n${hint}`, { cause: details.errorInstance });
}

/** `fc.assert` with the committed replays of `key` (the pure core, for the helper's own tests). */
export function checkWithSeeds<Ts>(
  key: string,
  property: fc.IProperty<Ts>,
  params: fc.Parameters<Ts>,
  stored: readonly StoredSeed[],
): void;
export function checkWithSeeds<Ts>(
  key: string,
  property: fc.IAsyncProperty<Ts>,
  params: fc.Parameters<Ts>,
  stored: readonly StoredSeed[],
): Promise<void>;
export function checkWithSeeds<Ts>(
  key: string,
  property: fc.IRawProperty<Ts>,
  params: fc.Parameters<Ts>,
  stored: readonly StoredSeed[],
): void | Promise<void>;
export function checkWithSeeds<Ts>(
  key: string,
  property: fc.IRawProperty<Ts>,
  params: fc.Parameters<Ts>,
  stored: readonly StoredSeed[],
): void | Promise<void> {
  const runs = runsFor(params, stored);
  if (property.isAsync()) {
    return (async () => {
      for (const run of runs) {
        const error = failure(key, run, await fc.check(property, run.params));
        if (error) throw error;
      }
    })();
  }
  for (const run of runs) {
    const error = failure(key, run, fc.check(property as fc.IProperty<Ts>, run.params));
    if (error) throw error;
  }
}

export function assertProperty<Ts>(property: fc.IProperty<Ts>, params?: fc.Parameters<Ts>): void;
export function assertProperty<Ts>(
  property: fc.IAsyncProperty<Ts>,
  params?: fc.Parameters<Ts>,
): Promise<void>;
export function assertProperty<Ts>(
  property: fc.IRawProperty<Ts>,
  params: fc.Parameters<Ts> = {},
): void | Promise<void> {
  const key = propertyKey();
  return checkWithSeeds(key, property, params, loadSeeds()[key] ?? []);
}
