/**
 * `npm run bench` (full, < 10 min) and `npm run bench -- --quick` (< 60 s): starts its own
 * Redis, measures the floors and every scenario, writes bench/results.json and the table in
 * docs/performance.md. Options: --quick, --tiny (smoke test), --only a,b (scenario names),
 * --out-dir DIR (results.json and performance.md go there instead), --no-docs.
 */
import { runBench, parseArgs } from './harness.js';

const options = parseArgs(process.argv.slice(2));
runBench(options).then(
  (outcome) => {
    process.stdout.write(`${outcome.summaryLine}\n`);
    process.exit(outcome.complete ? 0 : 1);
  },
  (error: unknown) => {
    process.stderr.write(
      `benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
