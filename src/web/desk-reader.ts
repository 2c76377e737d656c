/**
 * One read of the whole desk: every symbol through the shared symbol-state reader plus both
 * heartbeats, in ONE pipelined round trip. Read-only commands only.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../redis/keys.js';
import { queueSymbolStateReads } from '../redis/symbol-state-reader.js';
import {
  type PipelineReply,
  SYMBOL_STATE_COMMANDS,
  decodeSymbolStates,
} from '../redis/symbol-state.js';
import { type DeskRow, type HeartbeatView, deskRow, heartbeatView } from './desk-rows.js';
import { isReplyErrorKind } from '../redis/scripts/reply-errors.js';

export interface DeskRead {
  read_ms: number;
  rows: DeskRow[];
  heartbeats: { engine: HeartbeatView; brain: HeartbeatView };
}

function heartbeat(reply: PipelineReply | undefined): HeartbeatView {
  if (reply === undefined) throw new Error('pipeline returned fewer replies than commands');
  const [error, value] = reply;
  if (error !== null) {
    if (isReplyErrorKind(error, 'WRONGTYPE')) {
      return { present: true, ts_ms: null, facts: {}, problem: 'not a string' };
    }
    throw error;
  }
  return heartbeatView(typeof value === 'string' ? value : null);
}

export async function readDesk(
  redis: Redis,
  keys: Keys,
  symbols: readonly string[],
  nowMs: () => number,
): Promise<DeskRead> {
  const pipeline = redis.pipeline();
  queueSymbolStateReads(pipeline, keys, symbols);
  pipeline.get(keys.reconcileHeartbeat);
  pipeline.get(keys.brainHeartbeat);
  const replies = ((await pipeline.exec()) ?? []) as PipelineReply[];
  const at = symbols.length * SYMBOL_STATE_COMMANDS;
  const states = decodeSymbolStates(symbols, replies.slice(0, at));
  const now = nowMs();
  return {
    read_ms: now,
    rows: states.map((state) => deskRow(state, now)),
    heartbeats: { engine: heartbeat(replies[at]), brain: heartbeat(replies[at + 1]) },
  };
}
