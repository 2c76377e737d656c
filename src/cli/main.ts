#!/usr/bin/env node
/**
 * `posguard` — the operator CLI and the entry point of every service.
 * Exit codes: 0 ok, 1 failure, 2 usage.
 */
import { Command, CommanderError } from 'commander';
import { PosguardError, errorMessage } from '../errors.js';
import { registerCommands } from './commands/index.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

function buildProgram(): Command {
  const program = new Command('posguard')
    .description(
      'Fail-closed position safety for Binance USD-M futures on Redis:\n' +
        'the Position State Brain (P3.3), the Reconcile Engine (P3.4), the permit gate,\n' +
        'operator tools, and a simulated venue and pipeline.',
    )
    .showHelpAfterError()
    .exitOverride();
  registerCommands(program);
  return program;
}

async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? EXIT_OK : Number(process.exitCode);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      ) {
        return EXIT_OK;
      }
      return EXIT_USAGE;
    }
    if (
      error instanceof PosguardError &&
      (error.code === 'USAGE' || error.code === 'CONFIG_INVALID')
    ) {
      process.stderr.write(`posguard: ${error.message}\n`);
      return error.code === 'USAGE' ? EXIT_USAGE : EXIT_FAILURE;
    }
    process.stderr.write(`posguard: ${errorMessage(error)}\n`);
    return EXIT_FAILURE;
  }
}

// An unhandled rejection ends the process so the supervisor restarts it (STYLE.md).
process.on('unhandledRejection', (reason) => {
  process.stderr.write(`posguard: unhandled rejection: ${errorMessage(reason)}\n`);
  process.exit(EXIT_FAILURE);
});

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`posguard: ${errorMessage(error)}\n`);
    process.exitCode = EXIT_FAILURE;
  },
);
