/**
 * Consumer-group plumbing shared by the plan evaluator and the ledger updater: group
 * creation, reply parsing, pending re-reads and claims of entries left by dead consumers.
 */
import type { Redis } from 'ioredis';
import { fieldsToRecord } from '../domain/apply-result.js';
import { isReplyErrorKind } from '../redis/scripts/reply-errors.js';

export interface StreamEntry {
  id: string;
  /** null when the entry was deleted from the stream while it was pending. */
  fields: Record<string, string> | null;
}

/** Creates the group (and the stream) unless it exists. */
export async function ensureGroup(
  redis: Redis,
  stream: string,
  group: string,
  startId: '0' | '$',
): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, group, startId, 'MKSTREAM');
  } catch (error) {
    if (!isReplyErrorKind(error, 'BUSYGROUP')) throw error;
  }
}

export function isNoGroup(error: unknown): boolean {
  return isReplyErrorKind(error, 'NOGROUP');
}

function toEntries(raw: unknown): StreamEntry[] {
  if (!Array.isArray(raw)) return [];
  const entries: StreamEntry[] = [];
  for (const item of raw) {
    if (!Array.isArray(item) || typeof item[0] !== 'string') continue;
    const flat: unknown = item[1];
    entries.push({
      id: item[0],
      fields: Array.isArray(flat) ? fieldsToRecord(flat as string[]) : null,
    });
  }
  return entries;
}

/** XREADGROUP for one stream. `id` '>' reads new entries, any other id this consumer's pending ones. */
export async function readGroup(
  redis: Redis,
  options: {
    stream: string;
    group: string;
    consumer: string;
    count: number;
    blockMs?: number;
    id: string;
  },
): Promise<StreamEntry[]> {
  const { stream, group, consumer, count, blockMs, id } = options;
  const reply =
    blockMs === undefined
      ? await redis.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, id)
      : await redis.xreadgroup(
          'GROUP',
          group,
          consumer,
          'COUNT',
          count,
          'BLOCK',
          blockMs,
          'STREAMS',
          stream,
          id,
        );
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const first: unknown = reply[0];
  return Array.isArray(first) ? toEntries(first[1]) : [];
}

/** Claims entries idle longer than `minIdleMs` (their consumer died) for `consumer`. */
export async function autoClaim(
  redis: Redis,
  options: { stream: string; group: string; consumer: string; minIdleMs: number; count: number },
): Promise<StreamEntry[]> {
  const { stream, group, consumer, minIdleMs, count } = options;
  const claimed: StreamEntry[] = [];
  let cursor = '0-0';
  // Bounded: at most 10 pages per call, the rest waits for the next claim round.
  for (let page = 0; page < 10; page += 1) {
    const reply = await redis.xautoclaim(
      stream,
      group,
      consumer,
      minIdleMs,
      cursor,
      'COUNT',
      count,
    );
    claimed.push(...toEntries(reply[1]));
    cursor = typeof reply[0] === 'string' ? reply[0] : '0-0';
    if (cursor === '0-0') break;
  }
  return claimed;
}
