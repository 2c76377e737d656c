/**
 * Typed wrapper of `brain_write_snapshots.lua` (SPEC §3: a snapshot never goes back in
 * time): pure argument encoding and reply decoding, plus the pipelined call in batches of
 * SNAPSHOT_WRITE_BATCH keys. A batch that meets NOSCRIPT (first call after a Redis restart
 * or SCRIPT FLUSH) is re-run on its own with the EVAL fallback, which loads the script.
 */
import type { Redis } from 'ioredis';
import { PosguardError } from '../errors.js';
import { LuaScript, isNoScript } from '../redis/lua-script.js';

export const writeSnapshotsScript = LuaScript.load('brain_write_snapshots');

/** Keys per script call: one call at this size blocks Redis for about a millisecond. */
export const SNAPSHOT_WRITE_BATCH = 500;

/** The hash fields, in the order the rows carry them. */
export const SNAPSHOT_WRITE_FIELDS = [
  'position_amt',
  'side',
  'entry_price',
  'mark_price',
  'leverage',
  'unrealized_pnl',
  'ts_epoch',
  'ts_ms',
  'ts_iso',
  'exchange_update_ms',
  'source',
] as const;

export interface SnapshotWrite {
  symbol: string;
  key: string;
  /** Encoded snapshot fields; a field absent here is left as stored. */
  fields: Record<string, string>;
}

export type SnapshotWriteOutcome =
  | { kind: 'written'; changed: boolean }
  | { kind: 'stale' }
  | { kind: 'wrong_type'; problem: string };

export interface SnapshotWriteSettings {
  ttlMs: number;
  /** Pub/sub channel for symbols whose amount changed; '' = none. */
  channel: string;
}

export function encodeSnapshotWrites(
  writes: readonly SnapshotWrite[],
  settings: SnapshotWriteSettings,
): { keys: string[]; args: [string] } {
  return {
    keys: writes.map((w) => w.key),
    args: [
      JSON.stringify({
        ttl_ms: String(Math.max(1, Math.round(settings.ttlMs))),
        channel: settings.channel,
        fields: SNAPSHOT_WRITE_FIELDS,
        rows: writes.map((w) => SNAPSHOT_WRITE_FIELDS.map((f) => w.fields[f] ?? false)),
        symbols: writes.map((w) => w.symbol),
      }),
    ],
  };
}

/** One outcome per key, or null when the reply is not the script's. */
export function decodeSnapshotWriteReply(
  reply: unknown,
  count: number,
): SnapshotWriteOutcome[] | null {
  if (!Array.isArray(reply) || typeof reply[0] !== 'number' || reply.length % 2 !== 1) return null;
  const outcomes: SnapshotWriteOutcome[] = Array.from({ length: count }, () => ({
    kind: 'written',
    changed: false,
  }));
  for (let at = 1; at < reply.length; at += 2) {
    const index = reply[at] as unknown;
    const code = reply[at + 1] as unknown;
    if (typeof index !== 'number' || index < 1 || index > count || typeof code !== 'string')
      return null;
    if (code === 'changed') outcomes[index - 1] = { kind: 'written', changed: true };
    else if (code === 'stale') outcomes[index - 1] = { kind: 'stale' };
    else if (code.startsWith('wrong_type '))
      outcomes[index - 1] = { kind: 'wrong_type', problem: code };
    else return null;
  }
  const written = outcomes.filter((o) => o.kind === 'written').length;
  return written === reply[0] ? outcomes : null;
}

/** Writes every snapshot (batched, one pipeline); one outcome per write, in order. */
export async function writeSnapshots(
  redis: Redis,
  writes: readonly SnapshotWrite[],
  settings: SnapshotWriteSettings,
): Promise<SnapshotWriteOutcome[]> {
  const batches: SnapshotWrite[][] = [];
  for (let i = 0; i < writes.length; i += SNAPSHOT_WRITE_BATCH)
    batches.push(writes.slice(i, i + SNAPSHOT_WRITE_BATCH));
  const pipeline = redis.pipeline();
  const encoded = batches.map((batch) => encodeSnapshotWrites(batch, settings));
  for (const { keys, args } of encoded) writeSnapshotsScript.queue(pipeline, keys, args);
  const results = (await pipeline.exec()) ?? [];
  const outcomes: SnapshotWriteOutcome[] = [];
  for (const [i, batch] of batches.entries()) {
    let [error, reply] = results[i] ?? [new Error('no reply'), null];
    if (error && isNoScript(error)) {
      const { keys, args } = encoded[i]!;
      [error, reply] = [null, await writeSnapshotsScript.run(redis, keys, args)];
    }
    if (error) throw error;
    const decoded = decodeSnapshotWriteReply(reply, batch.length);
    if (decoded === null)
      throw new PosguardError(
        'SCRIPT_REPLY_INVALID',
        'brain_write_snapshots returned an unknown reply',
      );
    outcomes.push(...decoded);
  }
  return outcomes;
}
