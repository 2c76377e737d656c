/**
 * Every random choice a test makes comes from a seeded generator, so a failure can be
 * replayed: the seed is printed when the test fails, and `POSGUARD_TEST_SEED=<seed>` makes
 * every seeded test of the run use it.
 *
 *   const random = seededRandom();        // inside the test
 *   await sleep(random.between(20, 400));
 *
 * A failure prints e.g.
 *   random seed 1234567 — replay: POSGUARD_TEST_SEED=1234567 npx vitest run test/reliability/crash-kill.test.ts
 */
import { randomInt } from 'node:crypto';
import { relative } from 'node:path';
import { expect, onTestFailed } from 'vitest';

export interface SeededRandom {
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [min, max). */
  between(min: number, max: number): number;
  /** An integer in [0, n). */
  int(n: number): number;
}

/** The run's seed from POSGUARD_TEST_SEED, or null when unset. Rejects a malformed one. */
export function replaySeed(env: NodeJS.ProcessEnv = process.env): number | null {
  const raw = env.POSGUARD_TEST_SEED;
  if (raw === undefined || raw.trim() === '') return null;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) {
    throw new Error(
      `POSGUARD_TEST_SEED must be an integer (the seed a failed test printed), got ${raw}`,
    );
  }
  return seed;
}

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function generatorFor(seed: number): SeededRandom {
  let state = seed | 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    between: (min, max) => min + next() * (max - min),
    int: (n) => Math.floor(next() * n),
  };
}

/** The test file being run, relative to the repository (for the replay command). */
export function currentTestFile(): string {
  const path = expect.getState().testPath;
  return path === undefined ? '<test file>' : relative(process.cwd(), path);
}

/**
 * A generator for the running test: POSGUARD_TEST_SEED when set, else a fresh seed. When the
 * test fails, the seed and the command that replays it are printed.
 */
export function seededRandom(): SeededRandom {
  const seed = replaySeed() ?? randomInt(0, 2 ** 31);
  const file = currentTestFile();
  onTestFailed(() => {
    console.error(
      `random seed ${seed} — replay: POSGUARD_TEST_SEED=${seed} npx vitest run ${file}`,
    );
  });
  return generatorFor(seed);
}
