/**
 * The one symbol-state reader: for N symbols, one pipelined round trip (SYMBOL_STATE_COMMANDS
 * read commands per symbol), decoded by `symbol-state.ts` with the same codecs the services
 * use. Callers that need a few more values in the same round trip queue their own commands
 * after `queueSymbolStateReads` and pass only the symbols' replies to `decodeSymbolStates`.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import type { Keys } from './keys.js';
import {
  type PipelineReply,
  SYMBOL_STATE_COMMANDS,
  type SymbolState,
  decodeSymbolStates,
  symbolStateCommands,
} from './symbol-state.js';

/** Queues the reads of every symbol on `pipeline`; their replies come first, in order. */
export function queueSymbolStateReads(
  pipeline: ChainableCommander,
  keys: Keys,
  symbols: readonly string[],
): void {
  for (const symbol of symbols) {
    for (const [command, key] of symbolStateCommands(keys, symbol)) pipeline.call(command, key);
  }
}

/** Reads and decodes every symbol in one round trip. Rejects when Redis cannot answer. */
export async function readSymbolStates(
  redis: Redis,
  keys: Keys,
  symbols: readonly string[],
): Promise<SymbolState[]> {
  if (symbols.length === 0) return [];
  const pipeline = redis.pipeline();
  queueSymbolStateReads(pipeline, keys, symbols);
  const replies = ((await pipeline.exec()) ?? []) as PipelineReply[];
  if (replies.length !== symbols.length * SYMBOL_STATE_COMMANDS) {
    throw new Error(
      `symbol state read: ${replies.length} replies for ${symbols.length * SYMBOL_STATE_COMMANDS} commands`,
    );
  }
  return decodeSymbolStates(symbols, replies);
}
