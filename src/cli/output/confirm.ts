/**
 * Guards for every mutation (SPEC §10): a reason, an operator, and a confirmation.
 * On a terminal the operator is asked; without one, `--yes` is required — a script that
 * forgot it fails with exit 2 instead of silently changing a position record.
 */
import { createInterface } from 'node:readline/promises';
import { PosguardError } from '../../errors.js';

export interface MutationOptions {
  reason?: string;
  operator?: string;
  yes?: boolean;
}

export interface ConfirmIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

const defaultIo = (): ConfirmIo => ({ stdin: process.stdin, stderr: process.stderr });

/** `--operator NAME`, else $USER; a mutation without an operator is a usage error. */
export function operatorName(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const name = (explicit ?? env.USER ?? '').trim();
  if (name === '') {
    throw new PosguardError('USAGE', 'no operator: pass --operator NAME (or set $USER)');
  }
  if (name.length > 64 || !/^[\w.@-]+$/.test(name)) {
    throw new PosguardError(
      'USAGE',
      `invalid operator ${JSON.stringify(name)}: letters, digits, _ . @ - only`,
    );
  }
  return name;
}

export function requiredReason(reason: string | undefined): string {
  const text = (reason ?? '').trim();
  if (text === '')
    throw new PosguardError(
      'USAGE',
      '--reason is required for every change (it goes into the audit event)',
    );
  if (text.length > 500) throw new PosguardError('USAGE', '--reason is longer than 500 characters');
  return text;
}

/**
 * Asks "Proceed? [y/N]" on a terminal. Without a terminal, `--yes` is required (USAGE).
 * Resolves false when the operator declines.
 */
export async function confirmMutation(
  summary: string,
  yes: boolean | undefined,
  io: ConfirmIo = defaultIo(),
): Promise<boolean> {
  if (yes === true) return true;
  if (io.stdin.isTTY !== true) {
    throw new PosguardError(
      'USAGE',
      `refusing to change anything without confirmation: stdin is not a terminal, pass --yes to confirm\n  ${summary}`,
    );
  }
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: false });
  try {
    io.stderr.write(`${summary}\n`);
    const answer = await rl.question('Proceed? [y/N] ');
    return /^(y|yes)$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
