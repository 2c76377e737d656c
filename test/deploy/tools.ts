/**
 * Helpers for the deployment tests: repository paths, external tools (promtool,
 * systemd-analyze, shellcheck) that may be missing on a developer machine, and a tiny
 * subprocess runner. A missing tool skips only the checks that need it, with a notice.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export function repoPath(...parts: string[]): string {
  return join(REPO, ...parts);
}

/** True when `cmd --version` (or the given probe args) runs. */
export function hasTool(cmd: string, probe: readonly string[] = ['--version']): boolean {
  const result = spawnSync(cmd, probe, { encoding: 'utf8', stdio: 'pipe' });
  return result.error === undefined && result.status === 0;
}

/** Prints why a block of checks is skipped, so a skip is never silent. */
export function skipNotice(tool: string, what: string, install: string): void {
  process.stderr.write(`\nNOTICE: ${tool} not found — skipping ${what}. Install: ${install}\n`);
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd ?? REPO,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined); // the child may exit without reading it
      child.stdin.end(options.input);
    }
  });
}
