/**
 * package.json `engines.node` says what runs posguard and its tests, and is true: the Node
 * running this suite (what CI runs) is inside it, and its lowest version satisfies every
 * direct dependency's own `engines.node` (so `npm ci && npm test` works on all of it).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repoPath } from './tools.js';

type Version = [number, number, number];

function version(text: string): Version {
  const [major = 0, minor = 0, patch = 0] = text
    .replace(/^v/, '')
    .split('.')
    .map((p) => Number.parseInt(p, 10));
  return [major, minor, patch];
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** `v` against one clause: `^X.Y.Z`, `>=X.Y.Z` or `X.x`-style comparators joined by spaces. */
function satisfiesClause(v: Version, clause: string): boolean {
  return clause
    .trim()
    .split(/\s+/)
    .every((part) => {
      const m = /^(\^|>=|<=|>|<)?v?(\d+(?:\.\d+){0,2})$/.exec(part);
      if (!m) throw new Error(`unsupported engines comparator ${JSON.stringify(part)}`);
      const [, op = '', target = ''] = m;
      const t = version(target);
      const c = compare(v, t);
      if (op === '^') return v[0] === t[0] && c >= 0;
      if (op === '>=') return c >= 0;
      if (op === '>') return c > 0;
      if (op === '<') return c < 0;
      if (op === '<=') return c <= 0;
      return target.split('.').length === 1 ? v[0] === t[0] : c === 0;
    });
}

function satisfies(v: Version, range: string): boolean {
  return range.split('||').some((clause) => satisfiesClause(v, clause));
}

const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as {
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

describe('package.json engines.node', () => {
  const range = pkg.engines.node;
  const floor = version(/\d+(?:\.\d+){0,2}/.exec(range)?.[0] ?? '0');

  it('includes the Node running these tests (what CI runs)', () => {
    expect(satisfies(version(process.versions.node), range), `${process.version} vs ${range}`).toBe(
      true,
    );
  });

  it('starts where every dependency can run: its lowest version satisfies them all', () => {
    const names = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)];
    const unmet = names.flatMap((name) => {
      const manifest = JSON.parse(
        readFileSync(repoPath('node_modules', name, 'package.json'), 'utf8'),
      ) as { engines?: { node?: string } };
      const needs = manifest.engines?.node;
      return needs === undefined || satisfies(floor, needs) ? [] : [`${name}: ${needs}`];
    });
    expect(unmet, `engines.node ${range}`).toEqual([]);
  });
});
