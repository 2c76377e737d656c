/**
 * docs/architecture.md and docs/operations.md name files; every named file must exist, so
 * the "where each rule lives" table cannot silently point at code that moved or vanished.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repoPath } from './tools.js';

function namedPaths(doc: string): string[] {
  const text = readFileSync(repoPath(doc), 'utf8');
  const paths = [
    ...text.matchAll(/`((?:src|test|ops|deploy|docs|examples|bench)\/[A-Za-z0-9_./-]+)`/g),
  ].map((m) => m[1] ?? '');
  return [...new Set(paths)];
}

describe.each(['docs/architecture.md', 'docs/operations.md'])('%s', (doc) => {
  it('names only files that exist', () => {
    const paths = namedPaths(doc);
    expect(paths.length).toBeGreaterThan(doc.includes('architecture') ? 50 : 5);
    expect(paths.filter((path) => !existsSync(repoPath(path.replace(/\/$/, ''))))).toEqual([]);
  });
});

describe('docs/architecture.md', () => {
  const text = readFileSync(repoPath('docs/architecture.md'), 'utf8');
  it('maps every LESSONS line (1–24) to code and tests', () => {
    const lessons = readFileSync(repoPath('../shared/LESSONS.md'), 'utf8');
    const count = lessons.split('\n').filter((line) => /^\| \d+ \|/.test(line)).length;
    expect(count).toBeGreaterThanOrEqual(24);
    for (let n = 1; n <= count; n += 1) {
      const row = text.split('\n').find((line) => line.startsWith(`| ${n} |`));
      expect(row, `LESSONS #${n}`).toBeDefined();
      expect(row, `LESSONS #${n} code`).toMatch(/`src\//);
      expect(row, `LESSONS #${n} tests`).toMatch(/`test\//);
    }
  });
});

describe('README.md and docs/*.md', () => {
  /** Every http(s) URL in the README and the docs, with the file it is in. */
  function urls(): { file: string; url: URL }[] {
    const files = [
      'README.md',
      ...readdirSync(repoPath('docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    return files.flatMap((file) =>
      [...readFileSync(repoPath(file), 'utf8').matchAll(/https?:\/\/[^\s`'")<>\]]+/g)].flatMap(
        (m) => {
          try {
            return [{ file, url: new URL(m[0]) }];
          } catch {
            return [];
          }
        },
      ),
    );
  }

  it('quote no package registry address (tool output is quoted with `<registry>` instead)', () => {
    const found = urls();
    expect(found.length).toBeGreaterThan(0);
    const registry = found.filter(
      ({ url }) => /registry/i.test(url.hostname) || url.pathname.startsWith('/-/'),
    );
    expect(registry.map(({ file, url }) => `${file}: ${url.href}`)).toEqual([]);
  });
});
