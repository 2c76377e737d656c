/**
 * Committed property-test seeds are replayed before the random search, and a failure of
 * the search prints the entry to commit.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PROPERTY_SEEDS_FILE, checkWithSeeds, propertyKey } from '../../helpers/property.js';

const KEY = 'test/example.test.ts > a property';

/** The first value fast-check generates with `seed`. */
function firstValue(seed: number): number {
  return fc.sample(fc.integer(), { seed, numRuns: 1 })[0]!;
}

describe('committed property seeds', () => {
  it('a committed seed is replayed: its counterexample fails even when the search would not find it', () => {
    const bad = firstValue(42);
    const property = fc.property(fc.integer(), (n) => n !== bad);
    // The search alone (another seed, one run) passes...
    expect(firstValue(7)).not.toBe(bad);
    expect(() => checkWithSeeds(KEY, property, { seed: 7, numRuns: 1 }, [])).not.toThrow();
    // ...the committed seed makes it fail, naming the file and the key.
    expect(() =>
      checkWithSeeds(KEY, property, { seed: 7, numRuns: 1 }, [{ seed: 42, note: 'found once' }]),
    ).toThrow(/still fails \(found once\)/);
  });

  it('a failing search prints the seed and path to commit, under the property key', () => {
    const property = fc.property(fc.integer({ min: 0, max: 1000 }), (n) => n < 500);
    let message = '';
    try {
      checkWithSeeds(KEY, property, { seed: 3 }, []);
    } catch (error) {
      message = (error as Error).message;
    }
    const entry = /add (\{"seed":-?\d+,"path":"[\d:]+"\}) to the list under "([^"]+)"/.exec(
      message,
    );
    expect(entry, message).not.toBeNull();
    expect(entry![2]).toBe(KEY);
    // The printed entry replays the failure.
    const stored = JSON.parse(entry![1]!) as { seed: number; path: string };
    expect(() => checkWithSeeds(KEY, property, { numRuns: 0 }, [stored])).toThrow(/still fails/);
  });

  it('async properties are replayed the same way', async () => {
    const bad = firstValue(42);
    const property = fc.asyncProperty(fc.integer(), (n) => Promise.resolve(n !== bad));
    await expect(
      checkWithSeeds(KEY, property, { seed: 7, numRuns: 1 }, [{ seed: 42 }]),
    ).rejects.toThrow(/still fails/);
  });

  it('keys name the file and the test, numbered from the second property of a test', () => {
    expect(propertyKey()).toBe(
      'test/unit/helpers/property-seeds.test.ts > committed property seeds > keys name the file and the test, numbered from the second property of a test',
    );
    expect(propertyKey()).toMatch(/ #2$/);
  });

  it('the committed file parses as a map of seed lists', () => {
    const seeds = JSON.parse(readFileSync(PROPERTY_SEEDS_FILE, 'utf8')) as Record<string, unknown>;
    for (const [key, list] of Object.entries(seeds)) {
      expect(Array.isArray(list), key).toBe(true);
      for (const s of list as { seed: unknown }[]) expect(Number.isInteger(s.seed), key).toBe(true);
    }
  });
});
