/**
 * Three projects, one run (`npm test` runs them all):
 *
 * - unit: pure tests — no Redis, no venue, no browser, no built CLI. No global setup, so
 *   no redis-server starts (`npm run test:unit`, seconds). A test that asks for Redis
 *   here fails with a message saying so (test/helpers/redis.ts).
 * - integration: everything that needs the run's redis-server, the simulated venue over
 *   real HTTP/WebSocket, a browser or the built CLI (`npm run test:integration`).
 * - deploy: the deployment files, proofs and tools (`npm run test:deploy`).
 */
import { defineConfig } from 'vitest/config';

/** Pure tests outside test/unit/ (each checked: no Redis, venue, network or dist/). */
const PURE_ELSEWHERE = [
  'test/cli/confirm.test.ts',
  'test/dev/stream-shapes.test.ts',
  'test/dev/verdict.test.ts',
  'test/exchange/environments.test.ts',
  'test/exchange/stream-watchdog.test.ts',
  'test/gate/permit-codec.test.ts',
  'test/reconcile/loop.test.ts',
  'test/reconcile/read-projection.test.ts',
  'test/reliability/codec-fuzz.test.ts',
  'test/web/web-pure.test.ts',
];

const UNIT = ['test/unit/**/*.test.ts', ...PURE_ELSEWHERE];
const DEPLOY = ['test/deploy/**/*.test.ts'];
const REDIS = ['test/helpers/global-setup.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      // Pure tests hold no state between files (no mocks, env or timers patched), so one
      // worker runs many files: half the time of a fresh process per file.
      { extends: true, test: { name: 'unit', include: UNIT, isolate: false } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [...UNIT, ...DEPLOY],
          globalSetup: REDIS,
        },
      },
      { extends: true, test: { name: 'deploy', include: DEPLOY, globalSetup: REDIS } },
    ],
  },
});
