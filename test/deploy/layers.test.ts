/**
 * The layers of src/ (docs/architecture.md, "Layers") are enforced by eslint.config.js, so
 * `npm run check` fails on an upward import or an import cycle. These tests run the real
 * config through ESLint's API on fixture files: virtual files at real places in src/ (the
 * zones are by folder), and for the cycle two files written for the test and removed after.
 * Only the boundary rules run, and without type information (the type-aware rules are what
 * `npm run check` adds; they do not decide boundaries).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ESLint } from 'eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, repoPath } from './tools.js';

const BOUNDARY_RULES = new Set([
  'import-x/no-restricted-paths',
  'import-x/no-cycle',
  'import-x/no-unresolved',
  'no-restricted-imports',
  'no-restricted-properties',
  'no-restricted-syntax',
  'no-restricted-globals',
]);

let linter: ESLint | null = null;

function boundaryLinter(): ESLint {
  linter ??= new ESLint({
    cwd: REPO,
    ruleFilter: ({ ruleId }) => BOUNDARY_RULES.has(ruleId),
    overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
  });
  return linter;
}

/** "line:rule" for each problem ESLint reports in `code` placed at `filePath`. */
async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await boundaryLinter().lintText(code, { filePath: repoPath(filePath) });
  return (result?.messages ?? []).map((m) => `${m.line}:${m.ruleId ?? m.message}`);
}

describe('import boundaries (eslint.config.js)', () => {
  it('domain/ imports nothing above it, no I/O package and reads no clock', async () => {
    const code = [
      "import { buildKeys } from '../redis/keys.js';",
      "import { Redis } from 'ioredis';",
      "import { readFileSync } from 'node:fs';",
      "import { Registry } from 'prom-client';",
      'export const now = Date.now();',
      'export const later = new Date();',
      'export const parts = [buildKeys, Redis, readFileSync, Registry];',
    ].join('\n');
    expect(await problems('src/domain/lint-fixture.ts', code)).toEqual([
      '1:import-x/no-restricted-paths',
      '2:no-restricted-imports',
      '3:no-restricted-imports',
      '4:no-restricted-imports',
      '5:no-restricted-properties',
      '6:no-restricted-syntax',
    ]);
  });

  it('domain/ may import domain/, src/errors.ts and decimal.js', async () => {
    const code = [
      "import { Decimal } from 'decimal.js';",
      "import { PosguardError } from '../errors.js';",
      "import { parseTimestampMs } from './time.js';",
      'export const parts = [Decimal, PosguardError, parseTimestampMs, new Date(0)];',
    ].join('\n');
    expect(await problems('src/domain/lint-fixture.ts', code)).toEqual([]);
  });

  it('a service imports neither dev/, cli/, web/, operator/ nor another service', async () => {
    const code = [
      "import { startEmbeddedRedis } from '../dev/redis-server.js';",
      "import { ReconcileEngine } from '../reconcile/engine.js';",
      "import { DEFAULT_GATE_WAIT_MS } from '../gate/consume-permits.js';",
      "import { buildKeys } from '../redis/keys.js';",
      'export const parts = [startEmbeddedRedis, ReconcileEngine, DEFAULT_GATE_WAIT_MS, buildKeys];',
    ].join('\n');
    expect(await problems('src/brain/lint-fixture.ts', code)).toEqual([
      '1:import-x/no-restricted-paths',
      '2:import-x/no-restricted-paths',
      '3:import-x/no-restricted-paths',
    ]);
  });

  it('adapters, operator/, web/ and dev/ import nothing above them; reconcile/ no exchange client', async () => {
    const cases: [string, string][] = [
      ['src/reconcile/lint-fixture.ts', "export * from '../exchange/binance-client.js';"],
      ['src/redis/lint-fixture.ts', "export * from '../brain/service.js';"],
      ['src/exchange/lint-fixture.ts', "export * from '../redis/keys.js';"],
      ['src/operator/lint-fixture.ts', "export * from '../web/server.js';"],
      ['src/web/lint-fixture.ts', "export * from '../dev/redis-server.js';"],
      ['src/dev/lint-fixture.ts', "export * from '../cli/arguments.js';"],
    ];
    for (const [file, code] of cases) {
      expect(await problems(file, code), file).toEqual(['1:import-x/no-restricted-paths']);
    }
  });

  it('the composition roots may import what they wire', async () => {
    const cli = [
      "export * from '../dev/redis-server.js';",
      "export * from '../web/server.js';",
      "export * from '../brain/service.js';",
    ].join('\n');
    expect(await problems('src/cli/lint-fixture.ts', cli)).toEqual([]);
    expect(await problems('src/dev/lint-fixture.ts', "export * from '../web/server.js';")).toEqual(
      [],
    );
  });

  it('an import the resolver cannot follow is an error, not a way around the zones', async () => {
    expect(
      await problems('src/domain/lint-fixture.ts', "export * from '../redis/nope.js';"),
    ).toEqual(['1:import-x/no-unresolved']);
  });
});

describe('import cycles and unplaced folders', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(REPO, 'test', 'deploy', 'lint-fixture-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a two-file cycle is an error in both files', async () => {
    writeFileSync(join(dir, 'a.ts'), "import { b } from './b.js';\nexport const a = () => b;\n");
    writeFileSync(join(dir, 'b.ts'), "import { a } from './a.js';\nexport const b = () => a;\n");
    const results = await boundaryLinter().lintFiles([join(dir, 'a.ts'), join(dir, 'b.ts')]);
    expect(
      results.map((r) => [relative(dir, r.filePath), r.messages.map((m) => m.ruleId)]),
    ).toEqual([
      ['a.ts', ['import-x/no-cycle']],
      ['b.ts', ['import-x/no-cycle']],
    ]);
  });

  it('a folder of src/ that has no layer stops the lint (it would be unrestricted)', () => {
    // A copy of the config next to its own src/; it reads the folders beside it.
    cpSync(repoPath('eslint.config.js'), join(dir, 'layers-config.mjs'));
    mkdirSync(join(dir, 'src', 'domain'), { recursive: true });
    writeFileSync(join(dir, 'src', 'domain', 'd.ts'), 'export const d = 1;\n');
    const load = `import(${JSON.stringify(join(dir, 'layers-config.mjs'))}).then(() => console.log('loaded'))`;
    const placed = spawnSync(process.execPath, ['-e', load], { encoding: 'utf8' });
    expect(placed.stdout + placed.stderr).toContain('loaded');
    mkdirSync(join(dir, 'src', 'scratch'));
    writeFileSync(join(dir, 'src', 'scratch', 's.ts'), 'export const s = 1;\n');
    const unplaced = spawnSync(process.execPath, ['-e', load], { encoding: 'utf8' });
    expect(unplaced.status).not.toBe(0);
    expect(unplaced.stderr).toContain('src/scratch/ has no layer');
  });
});

describe('the real tree', () => {
  // `npm run check` lints test/ and bench/ too; src/ is where the layers are.
  it(
    'src/ has no boundary violation, no cycle and no unresolved import',
    { timeout: 120_000 },
    async () => {
      const results = await boundaryLinter().lintFiles(['src']);
      const found = results.flatMap((r) =>
        r.messages.map((m) => `${relative(REPO, r.filePath)}:${m.line} ${m.ruleId}: ${m.message}`),
      );
      expect(found).toEqual([]);
      expect(results.length).toBeGreaterThan(150);
    },
  );
});
