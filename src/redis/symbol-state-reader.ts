/**
 * The one symbol-state reader: for N symbols, one pipelined round trip (the projection's
 * reads per symbol, FULL_STATE by default), decoded by `symbol-state.ts` with the same codecs
 * the services use. A caller that needs a few more values in the same round trip (a
 * heartbeat, the TTL of a key that names no symbol) passes them as `extra` reads.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import type { Keys } from './keys.js';
import {
  type FullPart,
  type PipelineReply,
  type SymbolStateOf,
  type SymbolStatePart,
  type SymbolStateProjection,
  decodeSymbolStates,
  fullState,
  symbolStateCommands,
} from './symbol-state.js';

/** One more read in the same round trip: a command and its one key. */
export type ExtraRead = readonly [command: string, key: string];

/** Queues the reads of every symbol on `pipeline`; their replies come first, in order. */
export function queueSymbolStateReads<P extends SymbolStatePart = FullPart>(
  pipeline: ChainableCommander,
  keys: Keys,
  symbols: readonly string[],
  projection: SymbolStateProjection<P> = fullState(),
): void {
  for (const symbol of symbols) {
    for (const [command, key] of symbolStateCommands(keys, symbol, projection))
      pipeline.call(command, key);
  }
}

/**
 * Reads and decodes every symbol, plus the `extra` reads (their replies as they came), in
 * one round trip. Rejects when Redis cannot answer.
 */
export async function readSymbolStatesWith<P extends SymbolStatePart>(
  redis: Redis,
  keys: Keys,
  symbols: readonly string[],
  projection: SymbolStateProjection<P>,
  extra: readonly ExtraRead[],
): Promise<{ states: SymbolStateOf<P>[]; extra: PipelineReply[] }> {
  if (symbols.length === 0 && extra.length === 0) return { states: [], extra: [] };
  const pipeline = redis.pipeline();
  queueSymbolStateReads(pipeline, keys, symbols, projection);
  for (const [command, key] of extra) pipeline.call(command, key);
  const replies = ((await pipeline.exec()) ?? []) as PipelineReply[];
  const at = symbols.length * projection.reads.length;
  if (replies.length !== at + extra.length) {
    throw new Error(
      `symbol state read: ${replies.length} replies for ${at + extra.length} commands`,
    );
  }
  return {
    states: decodeSymbolStates(symbols, replies.slice(0, at), projection),
    extra: replies.slice(at),
  };
}

/** Reads and decodes every symbol in one round trip. Rejects when Redis cannot answer. */
export async function readSymbolStates<P extends SymbolStatePart = FullPart>(
  redis: Redis,
  keys: Keys,
  symbols: readonly string[],
  projection: SymbolStateProjection<P> = fullState(),
): Promise<SymbolStateOf<P>[]> {
  return (await readSymbolStatesWith(redis, keys, symbols, projection, [])).states;
}
