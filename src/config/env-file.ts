/**
 * Reads the seeds' `/etc/quantum/*.env` files: `KEY=value`, `#` comments (also after a
 * value), optional quotes and `export`. The process environment wins over the file, as
 * systemd's `Environment=` would over `EnvironmentFile=`.
 */
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { ConfigError, errorMessage } from '../errors.js';

export function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`--env-file ${path}: cannot read (${errorMessage(error)})`]);
  }
  return parseEnv(text) as Record<string, string>;
}

export function mergeEnv(
  processEnv: NodeJS.ProcessEnv,
  envFile: string | undefined,
): Record<string, string | undefined> {
  if (!envFile) return { ...processEnv };
  return { ...readEnvFile(envFile), ...processEnv };
}
