/**
 * The one place where Redis error replies become typed errors (BullMQ's `finishedErrors`
 * idea): callers branch on `code`, never on message text.
 *
 * - `WRONGTYPE` — a key holds another type than the command expects (LESSONS #18)
 * - `BUSYGROUP` — XGROUP CREATE on a group that exists (harmless at start)
 * - `NOSCRIPT`  — the script cache was flushed (the script layer re-sends; seen only if
 *                 a caller bypasses it)
 * - `READONLY`  — we are connected to a replica (a Sentinel failover happened)
 * - `NOGROUP`   — a consumer group is gone (the stream was deleted or Redis restarted empty)
 */
import { PosguardError, type ErrorCode } from '../../errors.js';

export type ReplyErrorKind = 'WRONGTYPE' | 'BUSYGROUP' | 'NOSCRIPT' | 'READONLY' | 'NOGROUP';

const CODES: Record<ReplyErrorKind, ErrorCode> = {
  WRONGTYPE: 'REDIS_WRONGTYPE',
  BUSYGROUP: 'REDIS_BUSYGROUP',
  NOSCRIPT: 'REDIS_NOSCRIPT',
  READONLY: 'REDIS_READONLY',
  NOGROUP: 'REDIS_NOGROUP',
};

export class RedisReplyError extends PosguardError {
  readonly kind: ReplyErrorKind | null;

  constructor(kind: ReplyErrorKind | null, message: string, cause: unknown) {
    super(kind === null ? 'REDIS_REPLY' : CODES[kind], message, { cause });
    this.name = 'RedisReplyError';
    this.kind = kind;
  }
}

/** The kind of a Redis error reply (also when raised inside a script), or null. */
export function replyErrorKind(error: unknown): ReplyErrorKind | null {
  if (!(error instanceof Error)) return null;
  const match = /\b(WRONGTYPE|BUSYGROUP|NOSCRIPT|READONLY|NOGROUP)\b/.exec(error.message);
  return (match?.[1] as ReplyErrorKind | undefined) ?? null;
}

/**
 * Wraps a failure of a Redis call. Error replies become `RedisReplyError` (with `kind`
 * when known); connection errors and our own `PosguardError`s pass through unchanged.
 */
export function typedReplyError(error: unknown, context: string): Error {
  if (error instanceof PosguardError) return error;
  if (!(error instanceof Error))
    return new PosguardError('REDIS_REPLY', `${context}: ${String(error)}`);
  if (error.name !== 'ReplyError') return error;
  const kind = replyErrorKind(error);
  return new RedisReplyError(kind, `${context}: ${error.message}`, error);
}

export function isReplyErrorKind(error: unknown, kind: ReplyErrorKind): boolean {
  if (error instanceof RedisReplyError) return error.kind === kind;
  return replyErrorKind(error) === kind;
}
