/** The one place Redis error replies become typed errors (no Redis: ioredis' own ReplyError). */
import { ReplyError as IoredisReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { PosguardError } from '../../../src/errors.js';
import {
  RedisReplyError,
  isReplyErrorKind,
  replyErrorKind,
  typedReplyError,
} from '../../../src/redis/scripts/reply-errors.js';

/** ioredis' own error-reply class (typed loosely by ioredis). */
const ReplyError = IoredisReplyError as unknown as new (message: string) => Error;

describe('reply errors', () => {
  it.each([
    [
      'WRONGTYPE Operation against a key holding the wrong kind of value',
      'WRONGTYPE',
      'REDIS_WRONGTYPE',
    ],
    ['BUSYGROUP Consumer Group name already exists', 'BUSYGROUP', 'REDIS_BUSYGROUP'],
    ['NOSCRIPT No matching script. Please use EVAL.', 'NOSCRIPT', 'REDIS_NOSCRIPT'],
    ["READONLY You can't write against a read only replica.", 'READONLY', 'REDIS_READONLY'],
    ['NOGROUP No such key or consumer group', 'NOGROUP', 'REDIS_NOGROUP'],
    [
      'ERR user_script:12: WRONGTYPE Operation against a key holding the wrong kind of value script: abc, on @user_script:12.',
      'WRONGTYPE',
      'REDIS_WRONGTYPE',
    ],
  ])('%s → %s', (message, kind, code) => {
    const error = typedReplyError(new ReplyError(message), 'ctx');
    expect(error).toBeInstanceOf(RedisReplyError);
    expect(error).toMatchObject({ kind, code });
    expect(error.message).toBe(`ctx: ${message}`);
    expect(isReplyErrorKind(error, kind as 'WRONGTYPE')).toBe(true);
    expect(replyErrorKind(new ReplyError(message))).toBe(kind);
  });
  it('another error reply is REDIS_REPLY with no kind', () => {
    expect(typedReplyError(new ReplyError('ERR syntax error'), 'ctx')).toMatchObject({
      kind: null,
      code: 'REDIS_REPLY',
    });
  });
  it('connection errors and our own errors pass through unchanged', () => {
    const lost = new Error('Connection is closed.');
    expect(typedReplyError(lost, 'ctx')).toBe(lost);
    const ours = new PosguardError('SCRIPT_REPLY_INVALID', 'x');
    expect(typedReplyError(ours, 'ctx')).toBe(ours);
    expect(isReplyErrorKind(lost, 'WRONGTYPE')).toBe(false);
    expect(isReplyErrorKind('WRONGTYPE', 'WRONGTYPE')).toBe(false);
  });
});
