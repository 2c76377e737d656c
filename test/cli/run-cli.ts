/**
 * Runs the BUILT CLI (`node dist/src/cli/main.js`) as a child process, the way an operator
 * does: stdin is not a terminal, env is explicit. `npm test` builds first; when running
 * vitest directly, `npm run build` before.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const CLI = join(process.cwd(), 'dist/src/cli/main.js');

const SOURCES_UNDER_TEST = [
  'src/cli/main.ts',
  'src/cli/arguments.ts',
  'src/cli/redis-session.ts',
  'src/cli/commands/index.ts',
  ...['doctor', 'events', 'gate', 'hold', 'holds', 'ledger', 'permit', 'status'].map(
    (c) => `src/cli/commands/${c}.ts`,
  ),
  'src/cli/output',
  'src/operator',
  'src/cli/doctor',
  'src/gate',
];

function tsFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true }).flatMap((entry) =>
    tsFiles(join(path, entry.name)),
  );
}

/**
 * Fails loudly when the build is missing or older than a CLI/gate source under test
 * (each .ts compared with its own .js, so other engineers' edits elsewhere don't matter).
 */
export function assertBuilt(): void {
  if (!existsSync(CLI))
    throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it) first`);
  const root = process.cwd();
  for (const source of SOURCES_UNDER_TEST.flatMap((p) => tsFiles(join(root, p)))) {
    if (!source.endsWith('.ts')) continue;
    const built = join(root, 'dist', source.slice(root.length + 1).replace(/\.ts$/, '.js'));
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs) {
      throw new Error(`${built} is missing or older than its source: run \`npm run build\` first`);
    }
  }
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  /** Called with the child once it runs (e.g. to send SIGINT). */
  onSpawn?: (child: ReturnType<typeof spawn>) => void;
  timeoutMs?: number;
}

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    USER: 'tester',
  };
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
    options.onSpawn?.(child);
  });
}
