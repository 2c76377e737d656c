/**
 * The earlier system's record shapes (`../shared/fixtures/peer_shapes.json`, beside the
 * clone: CI places `shared/` at the same relative path), each with what a reader must
 * conclude. Loaded as data; the expectations below are read from each record's own
 * `signed_qty_change` and `fields`, never typed in by hand.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const PEER_SHAPES_PATH = join(process.cwd(), '..', 'shared', 'fixtures', 'peer_shapes.json');

export interface StreamRecord {
  writer: string;
  shape: string;
  key: string;
  stream_id: string;
  fields: Record<string, string>;
  meaning: string;
  signed_qty_change?: string;
}

export interface KeyRecord {
  writer: string;
  shape: string;
  redis_type: 'string' | 'hash';
  key: string;
  ttl_sec: number | null;
  value?: string;
  fields?: Record<string, string>;
  meaning: string;
}

export interface KeyRecordWithCompanions extends KeyRecord {
  /** Other keys the writer set beside the record (key → value), with the record's TTL. */
  companions?: Record<string, string>;
}

export interface PeerShapes {
  apply_result: StreamRecord[];
  apply_plan: StreamRecord[];
  governor_permit: KeyRecord[];
  p33_permit: KeyRecord[];
  ledger: KeyRecord[];
  snapshot: KeyRecord[];
  reconcile_hold: KeyRecordWithCompanions[];
}

export function loadPeerShapes(): PeerShapes {
  return JSON.parse(readFileSync(PEER_SHAPES_PATH, 'utf8')) as PeerShapes;
}

/** What one apply.result record must do, read from the record itself. */
export type ResultExpectation =
  /** Changes the ledger by exactly `signed` (the fixture's signed_qty_change). */
  | { kind: 'fill'; signed: string }
  /**
   * Changes no ledger amount; evidence for `qty` — signed by `sign`, or toward flat when
   * the record names no side (`sign` null).
   */
  | { kind: 'unconfirmed_order'; qty: string; sign: -1 | 1 | null }
  /** executed is true-ish but nothing says what was filled or ordered: counted. */
  | { kind: 'malformed' }
  | { kind: 'not_executed' };

const SIGNED = /^[+-]\d+(?:\.\d+)?$/;
const TRUE_WORDS = new Set(['true', '1', 'yes']);

/**
 * - `"none"`: no change; malformed when the record says executed, else not executed.
 * - a bare signed decimal (`"+0.15"`): a fill of exactly that.
 * - anything else (`"-0.002 (intended: …)"`, `"unknown (… intended -0.05)"`,
 *   `"-0.002 if the exchange position was LONG, +0.002 if SHORT …"`): an order whose
 *   fill is not confirmed, of the first quantity named; signed by the record's side, or
 *   toward flat when the fixture says the sign depends on the position.
 */
export function expectationOf(record: StreamRecord): ResultExpectation {
  const change = (record.signed_qty_change ?? '').trim();
  if (change === 'none') {
    const executed = TRUE_WORDS.has((record.fields.executed ?? '').toLowerCase());
    return executed ? { kind: 'malformed' } : { kind: 'not_executed' };
  }
  if (SIGNED.test(change)) return { kind: 'fill', signed: change };
  const number = /([+-]?)(\d+(?:\.\d+)?)/.exec(
    change.startsWith('unknown') ? change.slice(change.indexOf('intended')) : change,
  );
  if (number === null) throw new Error(`fixture change not understood: ${change}`);
  const towardFlat = /if the exchange position was/.test(change);
  return {
    kind: 'unconfirmed_order',
    qty: number[2] as string,
    sign: towardFlat ? null : number[1] === '-' ? -1 : 1,
  };
}

/**
 * The record's fields with its time moved to `nowMs`, in the writer's own format (integer
 * seconds stay integer seconds, `str(time.time())` floats stay floats): the fixtures are from
 * early 2026, and a plan or an evidence window judges age. Every other value is kept exactly.
 */
export function fieldsAt(record: StreamRecord, nowMs: number): Record<string, string> {
  const fields = { ...record.fields };
  const raw = fields.timestamp;
  if (raw !== undefined) {
    const decimals = raw.includes('.') ? raw.length - raw.indexOf('.') - 1 : 0;
    fields.timestamp =
      decimals === 0 ? String(Math.floor(nowMs / 1000)) : (nowMs / 1000).toFixed(decimals);
  }
  return fields;
}

/** Positions the fixture plans are judged against (healthy otherwise: fresh, agreed, no hold). */
export const PLAN_POSITIONS: Readonly<Record<string, string>> = {
  BTCUSDT: '0.004',
  ETHUSDT: '0.2',
};

/**
 * The permit each fixture plan's `meaning` implies against PLAN_POSITIONS (step 0.001):
 * `null` = no permit at all (decision not EXECUTE), a decimal = ALLOW with that
 * safe_close_qty, anything else = DENY with that reason.
 */
export const PLAN_PERMITS: Readonly<Record<string, string | null>> = {
  a6d9a033b2561c05: '0.004', // FULL_CLOSE_PROPOSED, no qty, no reduceOnly: the whole position
  '1fa15049a04dee28': '0.15', // PARTIAL_75, close_qty "0.0" = not given: 75 % of 0.2
  cd4de41f37ebba40: null, // decision ERROR
  d9377c0ef0d35cb0: '0.002', // PARTIAL_50, reduceOnly "true"
  '7ba9dbefaa674bd6': '0.05', // PARTIAL_25 of 0.2
  '17df5d97eeca1142': '0.004', // FULL_CLOSE_PROPOSED, qty "0.0" is not a quantity
  e7f7bcdf2992d325: 'not_reduce_only', // intent_bridge ENTRY, reduceOnly "false"
  '2657161197b07d67': '0.015', // no action, explicit qty 0.0155 floored to the step
  a178e06ed7921a4e: 'not_reduce_only', // ENTRY_PROPOSED: an open, never a close
  '559076f600a89dba': '0.05', // FULL_CLOSE_PROPOSED carrying a partial qty: the qty wins
  '3072182f65089949': '0.003', // explicit qty 0.003
  '1fb383a9d8045f03': '0.003', // harvest_brain, no action, explicit qty
  rot_3f2a9c1d_ETHUSDT: '0.2', // rotation FULL_CLOSE, qty "0", float-second timestamp
  bf81246600049f46: '0.001', // PARTIAL_33 with explicit qty 0.001, float-second timestamp
  '4f9c2a7e1b6d4e03': '0.05', // close_qty 0.05 next to the whole position in qty 0.2
  dag5_lockdown_halt: null, // symbol ALL, decision HALT: a halt signal, never a permit
  exit_proof_filled_eth_001: '0.01', // operator proof, qty "0.0100"
};

/**
 * What each fixture ledger hash (`SHAPES.ledger[i]`) describes, from its `meaning`:
 * - `position`: a ledger of that signed amount (step 0.001: compare within ε);
 * - `no_amount`: order metadata only — the engine initialises the amount from the exchange;
 * - `ambiguous`: the direction cannot be known (an absolute amount beside an ORDER side):
 *   an invalid ledger, never a guess.
 */
export type LedgerMeaning =
  { kind: 'position'; amount: string } | { kind: 'no_amount' } | { kind: 'ambiguous' };

export const LEDGER_MEANINGS: readonly LedgerMeaning[] = [
  { kind: 'ambiguous' }, // 0 P3.3 v1: |amount| 0.002 beside the order side SELL
  { kind: 'no_amount' }, // 1 P3.3 v2: metadata only (last_side UNKNOWN)
  { kind: 'position', amount: '-0.2' }, // 2 reconcile LEDGER_INIT v1, signed
  { kind: 'position', amount: '0.002' }, // 3 reconcile AUTO_REPAIR v1
  { kind: 'position', amount: '-0.2' }, // 4 reconcile v2, signed everywhere
  { kind: 'position', amount: '-0.2' }, // 5 intent_executor v1: ABS 0.2, last_side SHORT
  { kind: 'position', amount: '-0.2' }, // 6 intent_executor v2, signed
  { kind: 'position', amount: '-0.15' }, // 7 exactly-once v1: position_amt ABS 0.15, side SHORT
  { kind: 'position', amount: '0.01' }, // 8 exactly-once v3: 0.009999999999999998 (float noise)
  { kind: 'position', amount: '-0.25' }, // 9 exactly-once v4, signed
  { kind: 'position', amount: '0' }, // 10 exactly-once, went FLAT
  { kind: 'position', amount: '-0.2' }, // 11 sync_ledger timer: ABS 0.2, last_side SHORT
  { kind: 'position', amount: '-0.2' }, // 12 one-off sync, signed
  { kind: 'position', amount: '-0.2' }, // 13 merged: signed ledger_amt beside ABS last_known_amt
];

/**
 * What each fixture snapshot (`SHAPES.snapshot[i]`) tells a reader of
 * `P:position:snapshot:SYM`: the signed exchange amount, or `null` when the record is written
 * under another key (nothing to read there: missing).
 */
export const SNAPSHOT_MEANINGS: readonly (string | null)[] = [
  '0.002', // 0 open LONG
  '-0.2', // 1 SHORT, signed
  '0', // 2 flat, side NONE
  '0', // 3 flat, side FLAT
  '-0.25', // 4 reconcile bootstrap: no TTL, never refreshed (ages)
  null, // 5 quantum:state:positions — a different key
];

/** The record's key under `prefix` instead of the earlier system's `quantum`. */
export function keyUnder(prefix: string, key: string): string {
  if (!key.startsWith('quantum:')) throw new Error(`fixture key outside quantum: ${key}`);
  return `${prefix}${key.slice('quantum'.length)}`;
}
