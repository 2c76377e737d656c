/**
 * The cycle's reads (SPEC §7): for every symbol the snapshot, ledger, hold and its TTL,
 * hold owner, state and lot size, queued on ONE pipeline so round trips never grow with
 * the number of symbols. A key of the wrong type (LESSONS #18) becomes a per-symbol
 * problem, never a crashed cycle.
 */
import type { ChainableCommander } from 'ioredis';
import type { Keys } from '../redis/keys.js';

export type HashRead =
  { kind: 'hash'; fields: Record<string, string> } | { kind: 'error'; problem: string };

export interface SymbolReads {
  symbol: string;
  snapshot: HashRead;
  ledger: HashRead;
  /** Hold key value, or null when absent. A hold of the wrong type still counts as a hold. */
  hold: string | null;
  /** PTTL of the hold: ms, -1 without expiry, -2 absent. */
  holdPttlMs: number;
  holdOwner: string | null;
  state: Record<string, string>;
  lotSize: Record<string, string>;
}

/** Commands queued per symbol, in this order. */
export const READS_PER_SYMBOL = 7;

export function queueSymbolReads(pipeline: ChainableCommander, keys: Keys, symbol: string): void {
  pipeline
    .hgetall(keys.snapshot(symbol))
    .hgetall(keys.ledger(symbol))
    .get(keys.hold(symbol))
    .pttl(keys.hold(symbol))
    .get(keys.holdOwner(symbol))
    .hgetall(keys.reconcileState(symbol))
    .hgetall(keys.symbolLotSize(symbol));
}

type PipelineResult = [Error | null, unknown];

function asHash(result: PipelineResult | undefined): HashRead {
  if (!result) return { kind: 'error', problem: 'no reply' };
  const [error, value] = result;
  if (error) return { kind: 'error', problem: error.message };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { kind: 'error', problem: 'reply is not a hash' };
  }
  return { kind: 'hash', fields: value as Record<string, string> };
}

function hashOrEmpty(result: PipelineResult | undefined): Record<string, string> {
  const read = asHash(result);
  return read.kind === 'hash' ? read.fields : {};
}

function holdValue(result: PipelineResult | undefined): string | null {
  if (!result) return null;
  const [error, value] = result;
  if (error) return error.message.startsWith('WRONGTYPE') ? '<wrong type>' : null;
  return typeof value === 'string' ? value : null;
}

function stringOrNull(result: PipelineResult | undefined): string | null {
  const value = result?.[1];
  return result?.[0] === null && typeof value === 'string' ? value : null;
}

function numberOr(result: PipelineResult | undefined, fallback: number): number {
  const value = result?.[1];
  return result?.[0] === null && typeof value === 'number' ? value : fallback;
}

/** Decodes one symbol's slice of the pipeline results (starting at `offset`). */
export function parseSymbolReads(
  symbol: string,
  results: readonly PipelineResult[],
  offset: number,
): SymbolReads {
  const at = (i: number): PipelineResult | undefined => results[offset + i];
  return {
    symbol,
    snapshot: asHash(at(0)),
    ledger: asHash(at(1)),
    hold: holdValue(at(2)),
    holdPttlMs: numberOr(at(3), -2),
    holdOwner: stringOrNull(at(4)),
    state: hashOrEmpty(at(5)),
    lotSize: hashOrEmpty(at(6)),
  };
}
