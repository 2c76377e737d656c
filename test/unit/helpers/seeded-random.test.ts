/**
 * Seeded randomness: the same seed gives the same choices, POSGUARD_TEST_SEED replays a
 * run, a malformed seed is refused.
 */
import { describe, expect, it } from 'vitest';
import { generatorFor, replaySeed } from '../../helpers/seeded-random.js';

describe('seeded random', () => {
  it('the same seed gives the same sequence; another seed another one', () => {
    const draw = (seed: number): number[] =>
      Array.from(
        { length: 8 },
        (
          (g) => () =>
            g.next()
        )(generatorFor(seed)),
      );
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    for (const value of draw(7)) {
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
    }
  });

  it('between and int stay in their ranges', () => {
    const random = generatorFor(1);
    for (let i = 0; i < 1000; i += 1) {
      const x = random.between(20, 400);
      expect(x >= 20 && x < 400).toBe(true);
      const n = random.int(3);
      expect([0, 1, 2]).toContain(n);
    }
  });

  it('POSGUARD_TEST_SEED is the replay seed; unset is none; garbage is an error', () => {
    expect(replaySeed({ POSGUARD_TEST_SEED: '1234567' })).toBe(1234567);
    expect(replaySeed({})).toBeNull();
    expect(replaySeed({ POSGUARD_TEST_SEED: ' ' })).toBeNull();
    expect(() => replaySeed({ POSGUARD_TEST_SEED: '12abc' })).toThrow(/POSGUARD_TEST_SEED/);
  });
});
