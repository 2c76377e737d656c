/**
 * `posguard brain [--env-file PATH]` — the Position State Brain (P3.3, SPEC §3–§5): snapshot
 * poller, ledger updater and plan evaluator, metrics on P33_METRICS_HOST:P33_METRICS_PORT.
 * Runs until SIGTERM/SIGINT, which stop reading, finish the batch in hand and exit 0.
 */
import type { Command } from 'commander';
import { startBrain } from '../../brain/service.js';
import { configFrom, withEnvFile } from '../config-option.js';

export async function runBrain(options: { envFile?: string }): Promise<void> {
  const config = configFrom(options);
  const service = await startBrain({ config });
  await new Promise<void>((resolve) => {
    const shutdown = (): void => {
      process.off('SIGTERM', shutdown);
      process.off('SIGINT', shutdown);
      resolve();
    };
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
  });
  await service.stop();
}

export function registerBrain(program: Command): void {
  withEnvFile(
    program
      .command('brain')
      .description(
        'run the Position State Brain (P3.3): exchange snapshots, ledger updates from apply.result, ' +
          'one permit per EXECUTE plan in apply.plan',
      ),
  ).action(runBrain);
}
