/**
 * `npm run bench:ha` — the HA figures of issue 12 (SPEC §11), on real processes of the
 * built CLI, real redis-server / Sentinel set-ups and the simulated venue. Separate from
 * `npm run bench` (whose full run stays under 10 min): these take minutes each.
 *
 *   node dist/bench/ha/run.js [--quick] [--only takeover,fencing,failover,cost] [--out FILE]
 *
 * Each figure is a module beside this file exporting `run(options)` (its name is the
 * module's): `takeover` (SIGKILL of the reconcile leader), `fencing` (SIGSTOP/SIGCONT of
 * each leader), `failover` (Sentinel failovers under load, REDIS_MIN_REPLICAS_ACK 0 and 1),
 * `cost` (plan → permit with 2 brains against 1). Results: bench/ha-results.json, and one
 * JSON line per figure on stdout. docs/reliability.md quotes them with this command.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface HaBenchOptions {
  /** Fewer repetitions (a smoke run); the figures of docs/ come from a full run. */
  quick: boolean;
  progress(message: string): void;
}

export type HaFigure = (options: HaBenchOptions) => Promise<Record<string, unknown>>;

export const HA_FIGURES = ['takeover', 'fencing', 'failover', 'cost'] as const;

function parse(argv: string[]): { quick: boolean; only: string[]; out: string } {
  const here = fileURLToPath(new URL('.', import.meta.url));
  let quick = false;
  let only: string[] = [...HA_FIGURES];
  let out = join(here, '../../../bench/ha-results.json');
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--quick') quick = true;
    else if (arg === '--only') only = (argv[++i] ?? '').split(',').filter((s) => s !== '');
    else if (arg === '--out') out = argv[++i] ?? out;
    else
      throw new Error(`unknown option ${arg}; usage: run.js [--quick] [--only a,b] [--out FILE]`);
  }
  const unknown = only.filter((n) => !(HA_FIGURES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new Error(`unknown figure ${unknown.join(', ')}; known: ${HA_FIGURES.join(', ')}`);
  }
  return { quick, only, out };
}

async function main(): Promise<void> {
  const { quick, only, out } = parse(process.argv.slice(2));
  const started = new Date().toISOString();
  const results: Record<string, unknown> = {};
  for (const name of only) {
    const t0 = performance.now();
    const progress = (message: string): void => {
      process.stderr.write(`[ha:${name}] ${message}\n`);
    };
    try {
      const module = (await import(`./${name}.js`)) as { run: HaFigure };
      const result = await module.run({ quick, progress });
      results[name] = { ok: true, seconds: (performance.now() - t0) / 1000, result };
    } catch (error) {
      results[name] = {
        ok: false,
        seconds: (performance.now() - t0) / 1000,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      };
    }
    process.stdout.write(`${JSON.stringify({ figure: name, ...(results[name] as object) })}\n`);
  }
  writeFileSync(out, `${JSON.stringify({ started, quick, results }, null, 2)}\n`);
  process.stderr.write(`wrote ${out}\n`);
  if (Object.values(results).some((r) => !(r as { ok: boolean }).ok)) process.exitCode = 1;
}

await main();
