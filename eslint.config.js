import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

const root = import.meta.dirname;

/*
 * The layers of src/ (docs/architecture.md, "Layers"): each folder may import itself, the
 * folders listed for it and src/errors.ts — nothing else in src/. Lower layers first.
 */
const ADAPTERS = ['config', 'observability', 'runtime', 'redis', 'exchange'];
const SERVICES = ['brain', 'reconcile', 'gate'];
const LAYERS = {
  domain: [],
  config: ['domain'],
  observability: ['domain'],
  // The one place that reads the wall clock and starts timers (the system Clock and Scheduler).
  runtime: ['domain'],
  redis: ['domain', 'config', 'observability', 'runtime'],
  exchange: ['domain', 'config', 'observability', 'runtime'],
  // Services compose adapters; they never import each other, operator/, web/, cli/ or dev/.
  brain: ['domain', ...ADAPTERS],
  // P3.4 never places orders: no exchange client in reconcile/ (SPEC §7).
  reconcile: ['domain', ...ADAPTERS.filter((a) => a !== 'exchange')],
  gate: ['domain', ...ADAPTERS],
  operator: ['domain', ...ADAPTERS, ...SERVICES],
  web: ['domain', ...ADAPTERS, ...SERVICES, 'operator'],
  // dev/ (simulated venue, pipeline, demo, embedded redis-server) is never imported below cli/.
  dev: ['domain', ...ADAPTERS, ...SERVICES, 'operator', 'web'],
  // The composition root.
  cli: ['domain', ...ADAPTERS, ...SERVICES, 'operator', 'web', 'dev'],
};

/** Whether a folder holds any file (empty leftovers of moved folders do not count). */
function hasFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).some(
    (e) => !e.isDirectory() || hasFiles(join(dir, e.name)),
  );
}

const folders = readdirSync(join(root, 'src'), { withFileTypes: true })
  .filter((e) => e.isDirectory() && hasFiles(join(root, 'src', e.name)))
  .map((e) => e.name);
const unplaced = folders.filter((name) => !(name in LAYERS));
if (unplaced.length > 0) {
  throw new Error(
    `src/${unplaced.join('/, src/')}/ has no layer: add it to LAYERS in eslint.config.js and to the Layers section of docs/architecture.md`,
  );
}

const zones = [
  {
    target: './src/errors.ts',
    from: './src',
    except: ['./errors.ts'],
    message: 'src/errors.ts imports nothing from src/.',
  },
  ...Object.entries(LAYERS).flatMap(([folder, allowed]) =>
    Object.keys(LAYERS)
      .filter((other) => other !== folder && !allowed.includes(other))
      .map((other) => ({
        target: `./src/${folder}`,
        from: `./src/${other}`,
        message: `src/${folder}/ may import only ${allowed.length === 0 ? 'itself' : `src/{${allowed.join(',')}}/`} and src/errors.ts (layers: docs/architecture.md).`,
      })),
  ),
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: root },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
  {
    // Import boundaries and cycles. The resolver maps the `.js` specifiers to the `.ts` files;
    // an import it cannot resolve is an error (no-unresolved), so no import escapes the
    // zones by being unresolvable.
    plugins: { 'import-x': importX },
    settings: {
      // Without .ts here import-x reads no .ts dependency, and no-cycle silently sees none.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.js', '.json', '.node'],
          extensionAlias: { '.js': ['.ts', '.js'] },
        }),
      ],
    },
    rules: {
      'import-x/no-unresolved': 'error',
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { basePath: root, zones }],
    },
  },
  {
    // domain/ is pure: among packages only decimal.js; no node:*, Redis, metrics, logs, no clock.
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!\\.{1,2}/|decimal\\.js$)',
              message:
                'src/domain/ is pure: it imports only src/domain/, src/errors.ts and decimal.js (I/O belongs in an adapter).',
            },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        ...[
          ['Date', 'now'],
          ['performance', 'now'],
          ['process', 'hrtime'],
          ['Math', 'random'],
        ].map(([object, property]) => ({
          object,
          property,
          message: 'src/domain/ reads no clock and no randomness: take the value as an argument.',
        })),
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'NewExpression[callee.name="Date"][arguments.length=0]',
          message: 'src/domain/ reads no clock: take nowMs as an argument.',
        },
        {
          selector: 'CallExpression[callee.name="Date"]',
          message: 'src/domain/ reads no clock: take nowMs as an argument.',
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['process', 'performance', 'setTimeout', 'setInterval', 'setImmediate', 'fetch'].map(
          (name) => ({ name, message: 'src/domain/ does no I/O and no timing.' }),
        ),
      ],
    },
  },
  {
    // The web page's browser modules: plain ES modules, no build step, no type information.
    files: ['src/web/assets/**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        ['window', 'document', 'EventSource', 'fetch', 'setInterval', 'performance'].map((name) => [
          name,
          'readonly',
        ]),
      ),
    },
  },
);
