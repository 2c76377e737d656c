/**
 * Reading the audit trail `P:stream:reconcile.events` (SPEC §7): entries as records, and the
 * newest N of them (optionally of one symbol), paging backwards with a bound on how far.
 */
import type { Redis } from 'ioredis';

export interface EventRecord {
  id: string;
  fields: Record<string, string>;
}

export function toEventRecord([id, flat]: [string, string[]]): EventRecord {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
  return { id, fields };
}

const PAGE = 500;
/** With a symbol filter, how many entries to look through at most (the stream's MAXLEN ~). */
export const MAX_SCANNED = 20000;

/** The newest `count` events (optionally of one symbol), oldest first. */
export async function recentEvents(
  redis: Redis,
  stream: string,
  count: number,
  symbol?: string,
  newest = '+',
): Promise<EventRecord[]> {
  const found: EventRecord[] = [];
  let end = newest;
  let scanned = 0;
  while (found.length < count && scanned < MAX_SCANNED) {
    const size = symbol ? PAGE : count;
    const page = (await redis.xrevrange(stream, end, '-', 'COUNT', size)).map(toEventRecord);
    for (const record of page) {
      if ((symbol === undefined || record.fields.symbol === symbol) && found.length < count) {
        found.push(record);
      }
    }
    scanned += page.length;
    const last = page[page.length - 1];
    if (!last || page.length < size) break;
    end = `(${last.id}`;
  }
  return found.reverse();
}
