/**
 * One error base with a stable `code`. Branch on the class or the code, never on the
 * message; the message names the fix.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'REDIS_SERVER_MISSING'
  | 'REDIS_UNAVAILABLE'
  | 'SCRIPT_REPLY_INVALID'
  | 'REDIS_REPLY'
  | 'REDIS_WRONGTYPE'
  | 'REDIS_BUSYGROUP'
  | 'REDIS_NOSCRIPT'
  | 'REDIS_READONLY'
  | 'REDIS_NOGROUP'
  | 'EXCHANGE_HTTP'
  | 'EXCHANGE_RESPONSE_INVALID'
  | 'EXCHANGE_RATE_LIMITED'
  | 'EXCHANGE_TIMEOUT'
  | 'EXCHANGE_REJECTED'
  | 'USAGE'
  | 'NOT_FOUND'
  | 'CONFLICT'
  /** A writer of a leader role (SPEC §11) without a term: this instance does not lead it. */
  | 'NOT_LEADER'
  /** A write script of a leader role refused the writer's epoch (`fenced`): nothing written. */
  | 'FENCED';

export class PosguardError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PosguardError';
    this.code = code;
  }
}

export class ConfigError extends PosguardError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(
      'CONFIG_INVALID',
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
