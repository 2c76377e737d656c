/**
 * The decoded state of one symbol, as every reader sees it (issue 11, "one symbol-state
 * reader"): exchange snapshot, ledger, lot size, the engine's state hash, and the hold with
 * its owner and TTL. Pure: pipeline replies in, typed values out — tested without Redis.
 *
 * A reader asks for the parts it needs (a `SymbolStateProjection`; `FULL_STATE` by default)
 * and reads only the commands those parts need, in the order of `symbolStateCommands`; the
 * parts are decoded by `symbol-state-parts.ts`. A key of the wrong type (LESSONS #18) makes
 * that part invalid and is listed in `wrongType`, never a crash; any other error (connection
 * lost, Redis down) throws, so a caller never shows half a desk as if it were whole.
 */
import { type HeartbeatRead, decodeHeartbeat } from '../domain/reconcile-heartbeat.js';
import type { LedgerRead } from '../domain/ledger.js';
import type { LotSize } from '../domain/lot-size.js';
import type { SnapshotRead } from '../domain/snapshot.js';
import type { Keys } from './keys.js';
import {
  type HashRead,
  type HoldTtl,
  type HoldView,
  type ReconcileStateRead,
  holdFrom,
  holdTtlFrom,
  ledgerFrom,
  lotSizeFrom,
  reconcileStateFrom,
  snapshotFrom,
} from './symbol-state-parts.js';
import { isReplyErrorKind } from './scripts/reply-errors.js';

export * from './symbol-state-parts.js';

/** Every part a reader can ask for. */
export interface SymbolParts {
  snapshot: SnapshotRead;
  /** Decoded with ε of the symbol's lot size (its hash is read along). */
  ledger: LedgerRead;
  lotSize: LotSize | null;
  state: ReconcileStateRead;
  /** The hold with its owner: PTTL, PEXPIRETIME and the owner marker. */
  hold: HoldView;
  /** Only whether a hold exists, and its TTL: PTTL alone (the brain's check 7). */
  holdTtl: HoldTtl;
  /** The ledger hash as stored (`ledger show`, the raw text of an invalid amount); null when not a hash. */
  ledgerFields: Record<string, string> | null;
  /** PTTL of the ledger key in ms; null without expiry or when absent. */
  ledgerTtlMs: number | null;
}
export type SymbolStatePart = keyof SymbolParts;

/** The keys of a symbol, by the name a reader knows them by (`wrongType` lists them). */
export type SymbolKey = 'snapshot' | 'ledger' | 'lotSize' | 'state' | 'hold' | 'holdOwner';

export type SymbolStateOf<P extends SymbolStatePart> = Pick<SymbolParts, P> & {
  symbol: string;
  /** The keys read for the requested parts that held another type than posguard writes. */
  wrongType: readonly SymbolKey[];
};

const KEY_OF: Record<SymbolKey, (keys: Keys, symbol: string) => string> = {
  snapshot: (k, s) => k.snapshot(s),
  ledger: (k, s) => k.ledger(s),
  lotSize: (k, s) => k.symbolLotSize(s),
  state: (k, s) => k.reconcileState(s),
  hold: (k, s) => k.hold(s),
  holdOwner: (k, s) => k.holdOwner(s),
};

/** Every read command, in reply order. */
const READS = {
  snapshot: ['hgetall', 'snapshot'],
  ledger: ['hgetall', 'ledger'],
  lot: ['hgetall', 'lotSize'],
  state: ['hgetall', 'state'],
  holdPttl: ['pttl', 'hold'],
  holdExpire: ['pexpiretime', 'hold'],
  holdMarker: ['get', 'holdOwner'],
  ledgerPttl: ['pttl', 'ledger'],
} as const satisfies Record<string, readonly [string, SymbolKey]>;
type ReadName = keyof typeof READS;
const READ_ORDER = Object.keys(READS) as ReadName[];

const NEEDS: Record<SymbolStatePart, readonly ReadName[]> = {
  snapshot: ['snapshot'],
  ledger: ['ledger', 'lot'],
  lotSize: ['lot'],
  state: ['state'],
  hold: ['holdPttl', 'holdExpire', 'holdMarker'],
  holdTtl: ['holdPttl'],
  ledgerFields: ['ledger'],
  ledgerTtlMs: ['ledgerPttl'],
};

/** The parts a reader asks for and the reads they need (each read once, in READS order). */
export interface SymbolStateProjection<P extends SymbolStatePart> {
  readonly parts: readonly P[];
  readonly reads: readonly ReadName[];
}

export function symbolStateProjection<P extends SymbolStatePart>(
  parts: readonly P[],
): SymbolStateProjection<P> {
  const needed = new Set(parts.flatMap((part) => NEEDS[part]));
  return { parts, reads: READ_ORDER.filter((read) => needed.has(read)) };
}

export type FullPart = 'snapshot' | 'ledger' | 'lotSize' | 'state' | 'hold';
/** What the web page and `posguard status` show: every part of the state, with the hold's owner. */
export const FULL_STATE = symbolStateProjection<FullPart>([
  'snapshot',
  'ledger',
  'lotSize',
  'state',
  'hold',
]);
export type SymbolState = SymbolStateOf<FullPart>;

/** One pipeline reply as ioredis gives it. */
export type PipelineReply = [Error | null, unknown];

/** The commands FULL_STATE reads per symbol. */
export const SYMBOL_STATE_COMMANDS = FULL_STATE.reads.length;

/** FULL_STATE typed for a default parameter (`P` defaults to FullPart wherever this is used). */
export function fullState<P extends SymbolStatePart>(): SymbolStateProjection<P> {
  return FULL_STATE as unknown as SymbolStateProjection<P>;
}

/** The [command, key] pairs read for one symbol, in reply order. */
export function symbolStateCommands<P extends SymbolStatePart = FullPart>(
  keys: Keys,
  symbol: string,
  projection: SymbolStateProjection<P> = fullState(),
): [string, string][] {
  return projection.reads.map((name) => {
    const [command, key] = READS[name];
    return [command, KEY_OF[key](keys, symbol)];
  });
}

const WRONG_TYPE = Symbol('wrong type');
const UNKNOWN_COMMAND = Symbol('unknown command');

function value(reply: PipelineReply | undefined): unknown {
  if (reply === undefined) throw new Error('pipeline returned fewer replies than commands');
  const [error, result] = reply;
  if (error === null) return result;
  if (isReplyErrorKind(error, 'WRONGTYPE')) return WRONG_TYPE;
  if (/^ERR unknown command/i.test(error.message)) return UNKNOWN_COMMAND;
  throw error;
}

function hashRead(reply: unknown, name: string): HashRead {
  if (reply === WRONG_TYPE) return { kind: 'error', problem: `${name} key is not a hash` };
  const fields =
    reply !== null && typeof reply === 'object' ? (reply as Record<string, string>) : {};
  return { kind: 'hash', fields };
}

function numberOr(reply: unknown, fallback: number): number {
  return typeof reply === 'number' ? reply : fallback;
}

type Values = Partial<Record<ReadName, unknown>>;

function decodeParts(values: Values): { [K in SymbolStatePart]: () => SymbolParts[K] } {
  let lot: LotSize | null | undefined;
  const lotSize = (): LotSize | null => (lot ??= lotSizeFrom(hashRead(values.lot, 'lot size')));
  const ledgerHash = hashRead(values.ledger, 'ledger');
  return {
    snapshot: () => snapshotFrom(hashRead(values.snapshot, 'snapshot')),
    ledger: () => ledgerFrom(ledgerHash, lotSize()),
    lotSize,
    state: () => reconcileStateFrom(hashRead(values.state, 'state')),
    hold: () => {
      const marker = values.holdMarker;
      return holdFrom({
        pttlMs: numberOr(values.holdPttl, -2),
        expireTimeMs: typeof values.holdExpire === 'number' ? values.holdExpire : null,
        marker: marker === WRONG_TYPE ? undefined : typeof marker === 'string' ? marker : null,
      });
    },
    holdTtl: () => holdTtlFrom(numberOr(values.holdPttl, -2)),
    ledgerFields: () => (ledgerHash.kind === 'hash' ? ledgerHash.fields : null),
    ledgerTtlMs: () => {
      const pttl = numberOr(values.ledgerPttl, -2);
      return pttl >= 0 ? pttl : null;
    },
  };
}

/** Decodes one symbol's replies (the projection's reads, in order). */
export function decodeSymbolState<P extends SymbolStatePart = FullPart>(
  symbol: string,
  replies: readonly PipelineReply[],
  projection: SymbolStateProjection<P> = fullState(),
): SymbolStateOf<P> {
  const values: Values = {};
  const wrongType: SymbolKey[] = [];
  projection.reads.forEach((name, i) => {
    const reply = value(replies[i]);
    if (reply === WRONG_TYPE) wrongType.push(READS[name][1]);
    values[name] = reply;
  });
  const decode = decodeParts(values);
  const state: Record<string, unknown> = { symbol, wrongType };
  for (const part of projection.parts) state[part] = decode[part]();
  return state as SymbolStateOf<P>;
}

/** Decodes the replies of `symbols`, the projection's reads per symbol, in order. */
export function decodeSymbolStates<P extends SymbolStatePart = FullPart>(
  symbols: readonly string[],
  replies: readonly PipelineReply[],
  projection: SymbolStateProjection<P> = fullState(),
): SymbolStateOf<P>[] {
  const n = projection.reads.length;
  return symbols.map((symbol, i) =>
    decodeSymbolState(symbol, replies.slice(i * n, (i + 1) * n), projection),
  );
}

/**
 * The reconcile heartbeat (a GET reply): decoded, or invalid when it is not a string (the
 * reader then cannot tell which symbols are looked after). Other errors throw.
 */
export function decodeHeartbeatReply(reply: PipelineReply | undefined): HeartbeatRead {
  const raw = value(reply);
  return raw === null || typeof raw === 'string'
    ? decodeHeartbeat(raw)
    : { kind: 'invalid', problem: 'heartbeat is not a string' };
}
