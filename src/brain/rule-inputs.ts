/**
 * Reads what the permit rules need for a batch of plans in ONE pipeline: per symbol the
 * snapshot, ledger, hold and lot size, plus the reconcile heartbeat once. A key of the
 * wrong type (a bypass script wrote a string where a hash belongs, LESSONS #18) reads as
 * invalid data — a deny — never a crash; a connection error fails the whole batch.
 * The heartbeat names the symbols whose commit failed in the engine's last cycle: those
 * read as `reconcileFailing` (check 8 denies them); a heartbeat that cannot be decoded (or
 * is not a string) counts as absent — the brain cannot tell which symbols are watched.
 */
import type { Redis } from 'ioredis';
import { epsilonFor } from '../domain/amount.js';
import { decodeHeartbeat } from '../domain/reconcile-heartbeat.js';
import { type LedgerRead, decodeLedger } from '../domain/ledger.js';
import { type LotSize, decodeLotSize } from '../domain/lot-size.js';
import { type SnapshotRead, decodeSnapshot } from '../domain/snapshot.js';
import type { Keys } from '../redis/keys.js';

export interface SymbolState {
  snapshot: SnapshotRead;
  ledger: LedgerRead;
  holdPresent: boolean;
  lotSize: LotSize | null;
  /** The reconcile heartbeat names this symbol as failing (its commit wrote nothing). */
  reconcileFailing: boolean;
}

export interface BatchState {
  symbols: Map<string, SymbolState>;
  /** A heartbeat exists and can be decoded. */
  reconcileHeartbeatPresent: boolean;
}

type PipelineResult = [Error | null, unknown];

function isWrongType(error: Error | null): boolean {
  return error !== null && error.message.startsWith('WRONGTYPE');
}

/** The value of one pipeline reply, `wrongType` when the key held another type. */
function value(result: PipelineResult | undefined): unknown {
  if (result === undefined) throw new Error('pipeline returned fewer replies than commands');
  const [error, reply] = result;
  if (isWrongType(error)) return WRONG_TYPE;
  if (error) throw error;
  return reply;
}

const WRONG_TYPE = Symbol('wrong type');

function asHash(reply: unknown): Record<string, string> | typeof WRONG_TYPE {
  if (reply === WRONG_TYPE) return WRONG_TYPE;
  return reply !== null && typeof reply === 'object' ? (reply as Record<string, string>) : {};
}

function decodeSymbol(
  snapshot: unknown,
  ledger: unknown,
  hold: unknown,
  lot: unknown,
  reconcileFailing: boolean,
): SymbolState {
  const lotHash = asHash(lot);
  const lotSize = lotHash === WRONG_TYPE ? null : decodeLotSize(lotHash);
  const snapHash = asHash(snapshot);
  const ledgerHash = asHash(ledger);
  return {
    snapshot:
      snapHash === WRONG_TYPE
        ? { kind: 'invalid', problem: 'snapshot key is not a hash' }
        : decodeSnapshot(snapHash),
    ledger:
      ledgerHash === WRONG_TYPE
        ? { kind: 'invalid', problem: 'ledger key is not a hash', rawVersion: '' }
        : decodeLedger(ledgerHash, epsilonFor(lotSize?.stepSize)),
    // EXISTS never meets WRONGTYPE; any value under the hold key is a hold.
    holdPresent: hold !== 0,
    lotSize,
    reconcileFailing,
  };
}

export async function readBatchState(
  redis: Redis,
  keys: Keys,
  symbols: readonly string[],
): Promise<BatchState> {
  const pipeline = redis.pipeline();
  pipeline.get(keys.reconcileHeartbeat);
  for (const symbol of symbols) {
    pipeline.hgetall(keys.snapshot(symbol));
    pipeline.hgetall(keys.ledger(symbol));
    pipeline.exists(keys.hold(symbol));
    pipeline.hgetall(keys.symbolLotSize(symbol));
  }
  const results = ((await pipeline.exec()) ?? []) as PipelineResult[];
  const raw = value(results[0]);
  const heartbeat =
    raw === null || typeof raw === 'string'
      ? decodeHeartbeat(raw)
      : ({ kind: 'invalid', problem: 'heartbeat is not a string' } as const);
  const failing = heartbeat.kind === 'ok' ? heartbeat.failingSymbols : new Set<string>();
  const state: BatchState = {
    symbols: new Map(),
    reconcileHeartbeatPresent: heartbeat.kind === 'ok',
  };
  symbols.forEach((symbol, i) => {
    const at = 1 + i * 4;
    state.symbols.set(
      symbol,
      decodeSymbol(
        value(results[at]),
        value(results[at + 1]),
        value(results[at + 2]),
        value(results[at + 3]),
        failing.has(symbol),
      ),
    );
  });
  return state;
}
