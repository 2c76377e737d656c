/**
 * `--env-file PATH` for every command: the seeds' env-file format, environment wins.
 */
import type { Command } from 'commander';
import { type Config, loadConfig } from '../config/config.js';
import { mergeEnv } from '../config/env-file.js';

export function withEnvFile(command: Command): Command {
  return command.option(
    '--env-file <path>',
    'read configuration from an env file (e.g. /etc/quantum/reconcile-engine.env)',
  );
}

export function configFrom(
  options: { envFile?: string },
  env: NodeJS.ProcessEnv = process.env,
): Readonly<Config> {
  return loadConfig(mergeEnv(env, options.envFile));
}
