/**
 * Reads what the permit rules need for a batch of plans in ONE round trip, through the shared
 * symbol-state reader: per symbol the snapshot, ledger (with ε of its lot size), lot size and
 * whether a hold exists (PTTL alone: the rules never need its owner), plus the reconcile
 * heartbeat once. A key of the wrong type (a bypass script wrote a string where a hash
 * belongs, LESSONS #18) reads as invalid data — a deny — never a crash; a connection error
 * fails the whole batch.
 * The heartbeat names the symbols whose commit failed in the engine's last cycle: those
 * read as `reconcileFailing` (check 8 denies them); a heartbeat that cannot be decoded (or
 * is not a string) counts as absent — the brain cannot tell which symbols are watched.
 */
import type { Redis } from 'ioredis';
import type { LedgerRead } from '../domain/ledger.js';
import type { LotSize } from '../domain/lot-size.js';
import type { SnapshotRead } from '../domain/snapshot.js';
import type { Keys } from '../redis/keys.js';
import { decodeHeartbeatReply, symbolStateProjection } from '../redis/symbol-state.js';
import { readSymbolStatesWith } from '../redis/symbol-state-reader.js';

export interface SymbolRuleState {
  snapshot: SnapshotRead;
  ledger: LedgerRead;
  holdPresent: boolean;
  lotSize: LotSize | null;
  /** The reconcile heartbeat names this symbol as failing (its commit wrote nothing). */
  reconcileFailing: boolean;
}

export interface BatchState {
  symbols: Map<string, SymbolRuleState>;
  /** A heartbeat exists and can be decoded. */
  reconcileHeartbeatPresent: boolean;
}

/** Four reads per symbol: snapshot, ledger, lot size, PTTL of the hold. */
export const RULE_INPUTS = symbolStateProjection(['snapshot', 'ledger', 'lotSize', 'holdTtl']);

export async function readBatchState(
  redis: Redis,
  keys: Keys,
  symbols: readonly string[],
): Promise<BatchState> {
  const read = await readSymbolStatesWith(redis, keys, symbols, RULE_INPUTS, [
    ['get', keys.reconcileHeartbeat],
  ]);
  const heartbeat = decodeHeartbeatReply(read.extra[0]);
  const failing = heartbeat.kind === 'ok' ? heartbeat.failingSymbols : new Set<string>();
  const state: BatchState = {
    symbols: new Map(),
    reconcileHeartbeatPresent: heartbeat.kind === 'ok',
  };
  for (const { symbol, snapshot, ledger, lotSize, holdTtl } of read.states) {
    state.symbols.set(symbol, {
      snapshot,
      ledger,
      holdPresent: holdTtl.present,
      lotSize,
      reconcileFailing: failing.has(symbol),
    });
  }
  return state;
}
