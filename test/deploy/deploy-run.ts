/**
 * Running ops/deploy.sh in the deployment tests, and telling whether a run changed
 * anything: a fingerprint of every file under a directory (content, mode, mtime).
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoPath, run } from './tools.js';

export const DEPLOY = repoPath('ops/deploy.sh');

export function deploy(args: string[]): ReturnType<typeof run> {
  return run('bash', [DEPLOY, ...args], { timeoutMs: 120_000 });
}

/** path → sha1 + mode + mtime of every file under dir: any change shows. */
export function fingerprint(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        const stat = statSync(path);
        const hash = createHash('sha1').update(readFileSync(path)).digest('hex');
        out.set(relative(dir, path), `${hash} ${stat.mode.toString(8)} ${stat.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return out;
}
