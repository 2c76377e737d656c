/**
 * The ledger codec (SPEC §4) — the only code that reads or writes
 * `P:position:ledger:SYM`. Every component uses it, so two writers can never
 * again disagree about field names (LESSONS #1) or signs (LESSONS #10).
 */
import {
  type Amount,
  type Side,
  ZERO,
  formatAmount,
  parseAmount,
  parseSide,
  sideOf,
} from './amount.js';
import { parseTimestampMs } from './time.js';

export type LedgerSource = 'apply' | 'p34_init' | 'p34_auto' | 'p34_manual';

/** Fields about the last order, kept even before the amount is known. */
export interface LedgerOrderFields {
  lastOrderId: string | null;
  lastOrderTimeMs: number | null;
  lastPlanId: string | null;
  lastResultId: string | null;
}

export interface Ledger extends LedgerOrderFields {
  /** Signed: > 0 LONG, < 0 SHORT. */
  amount: Amount;
  side: Side;
  version: number;
  source: string | null;
  /** When the ledger amount was last written (ms); null for legacy hashes without a time. */
  updatedMs: number | null;
}

export type LedgerRead =
  | { kind: 'missing'; order: LedgerOrderFields; version: number; rawVersion: string }
  | { kind: 'invalid'; problem: string; rawVersion: string }
  | { kind: 'ok'; ledger: Ledger; rawVersion: string };

const EMPTY_ORDER: LedgerOrderFields = {
  lastOrderId: null,
  lastOrderTimeMs: null,
  lastPlanId: null,
  lastResultId: null,
};

function text(value: string | undefined): string | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

function readOrder(hash: Record<string, string>): LedgerOrderFields {
  return {
    lastOrderId: text(hash.last_order_id),
    lastOrderTimeMs:
      parseTimestampMs(hash.last_order_time_ms) ?? parseTimestampMs(hash.last_order_time_epoch),
    lastPlanId: text(hash.last_plan_id),
    lastResultId: text(hash.last_result_id),
  };
}

function readVersion(raw: string | undefined): number | null {
  if (raw === undefined || raw.trim() === '') return 0;
  const trimmed = raw.trim();
  if (!/^\d{1,15}$/.test(trimmed)) return null;
  return Number(trimmed);
}

/**
 * Where a ledger amount can be, in reading order, each with the side field(s) written with
 * it. The earlier system's writers (`fixtures/peer_shapes.json`) used all three:
 *
 * - `ledger_amt` — signed by every writer; its side is `ledger_side`.
 * - `last_known_amt` — signed by some writers, ABSOLUTE by others (intent_executor v1, the
 *   sync_ledger timer, P3.3 v1); each wrote `last_side` with it. posguard writes both, and
 *   also `last_known_side` (SPEC §4's mirror), read when `last_side` says nothing.
 * - `position_amt` — a snapshot copy (intent_executor's exactly-once commit), absolute in
 *   its first version; its side is `side`.
 */
const AMOUNT_SHAPES = [
  { amount: 'ledger_amt', sides: ['ledger_side'], legacy: false },
  { amount: 'last_known_amt', sides: ['last_side', 'last_known_side'], legacy: true },
  { amount: 'position_amt', sides: ['side'], legacy: true },
] as const;

/** The fields an amount and its direction are read from, in every shape. */
export const LEDGER_AMOUNT_FIELDS: readonly string[] = AMOUNT_SHAPES.flatMap((shape) => [
  shape.amount,
  ...shape.sides,
]);

/** Every hash field the codec reads (the engine's read projection lists them all). */
export const LEDGER_FIELDS: readonly string[] = [
  'version',
  ...LEDGER_AMOUNT_FIELDS,
  'ts_ms',
  'ts_epoch',
  'last_update_ts',
  'source',
  'last_order_id',
  'last_order_time_ms',
  'last_order_time_epoch',
  'last_plan_id',
  'last_result_id',
];

/** A side field as written: a position side, nothing (absent, "", NONE), or something else. */
type DeclaredSide =
  { kind: 'side'; side: Side } | { kind: 'blank' } | { kind: 'other'; field: string; raw: string };

function declaredSide(hash: Record<string, string>, fields: readonly string[]): DeclaredSide {
  for (const field of fields) {
    const raw = hash[field];
    if (raw === undefined) continue;
    const upper = raw.trim().toUpperCase();
    if (upper === '' || upper === 'NONE') continue;
    const side = parseSide(upper);
    return side === null ? { kind: 'other', field, raw } : { kind: 'side', side };
  }
  return { kind: 'blank' };
}

type Signed = { amount: Amount } | { problem: string };

/**
 * The signed amount of one shape. A position side gives the direction and |amount| the
 * size (SPEC §4: an operator may have edited one field); no side lets the sign decide.
 * Beside a legacy amount, any other side value (an ORDER side BUY/SELL, P3.3's UNKNOWN)
 * leaves a positive amount without a direction — it may be absolute — so it is invalid;
 * a negative one is signed (no writer stores a short as a negative absolute).
 */
function signedAmount(
  parsed: Amount,
  declared: DeclaredSide,
  legacy: boolean,
  epsilon: Amount,
): Signed {
  if (declared.kind === 'side') {
    if (declared.side === 'FLAT') {
      if (parsed.abs().gt(epsilon))
        return { problem: `side FLAT with amount ${formatAmount(parsed)}` };
      return { amount: ZERO };
    }
    return { amount: declared.side === 'LONG' ? parsed.abs() : parsed.abs().neg() };
  }
  if (declared.kind === 'other' && legacy && parsed.gt(epsilon)) {
    return {
      problem: `amount ${formatAmount(parsed)} may be absolute and ${declared.field} ${JSON.stringify(declared.raw)} is not a position side: direction unknown`,
    };
  }
  return { amount: parsed };
}

/**
 * Reads a ledger hash in any shape we have seen: canonical (`ledger_amt`/`ledger_side`),
 * legacy (`last_known_amt` with `last_side`/`last_known_side`), a snapshot copy
 * (`position_amt`/`side`), or several at once (HSET never removes fields).
 *
 * - amount = `ledger_amt`, else `last_known_amt`, else `position_amt`; each is read with
 *   the side field(s) of its own shape (AMOUNT_SHAPES), never another shape's.
 * - Side = that side field when it is LONG/SHORT/FLAT, else the sign. When side and sign
 *   disagree (an operator edited one field, or an absolute writer), the side gives direction
 *   and |amount| the size.
 * - FLAT with |amount| > ε, an unparseable amount or version, or a positive legacy amount
 *   beside a side that is not a position side (direction unknown) is invalid — never zero,
 *   never a guess.
 */
export function decodeLedger(hash: Record<string, string>, epsilon: Amount): LedgerRead {
  const rawVersion = hash.version ?? '';
  const version = readVersion(hash.version);
  if (version === null)
    return { kind: 'invalid', problem: 'version is not an integer', rawVersion };
  const shape = AMOUNT_SHAPES.find((s) => hash[s.amount] !== undefined);
  const order = readOrder(hash);
  if (shape === undefined) return { kind: 'missing', order, version, rawVersion };
  const rawAmount = hash[shape.amount];
  const parsed = parseAmount(rawAmount);
  if (parsed === null) {
    return {
      kind: 'invalid',
      problem: `${shape.amount} ${JSON.stringify(rawAmount)} is not a decimal`,
      rawVersion,
    };
  }
  const signed = signedAmount(parsed, declaredSide(hash, shape.sides), shape.legacy, epsilon);
  if ('problem' in signed) return { kind: 'invalid', problem: signed.problem, rawVersion };
  const amount = signed.amount.isZero() ? ZERO : signed.amount;
  const updatedMs =
    parseTimestampMs(hash.ts_ms) ??
    parseTimestampMs(hash.ts_epoch) ??
    parseTimestampMs(hash.last_update_ts);
  return {
    kind: 'ok',
    rawVersion,
    ledger: {
      amount,
      side: sideOf(amount, epsilon),
      version,
      source: text(hash.source),
      updatedMs,
      ...order,
    },
  };
}

export interface LedgerWrite {
  amount: Amount;
  source: LedgerSource;
  nowMs: number;
  /** Version of the ledger this write replaces (0 when there was none). */
  previousVersion: number;
  order?: Partial<LedgerOrderFields>;
}

/**
 * The hash fields of a ledger write: canonical fields plus the compatibility mirrors.
 * `last_side` is written with `last_known_amt` (as every earlier writer did), so a stale
 * `last_side` — an order side, or the side of an absolute amount — can never give the new
 * amount a direction. (`position_amt`/`side` are left as they are: a stale pair stays a
 * pair, and `ledger_amt` is always read before it.)
 */
export function encodeLedger(write: LedgerWrite): Record<string, string> {
  const amount = formatAmount(write.amount);
  const side = sideOf(write.amount);
  const epoch = String(Math.floor(write.nowMs / 1000));
  const fields: Record<string, string> = {
    ledger_amt: amount,
    ledger_side: side,
    version: String(write.previousVersion + 1),
    source: write.source,
    ts_epoch: epoch,
    ts_ms: String(write.nowMs),
    last_known_amt: amount,
    last_known_side: side,
    last_side: side,
    last_update_ts: epoch,
  };
  Object.assign(fields, encodeOrderFields(write.order ?? {}));
  return fields;
}

/** Order fields only (what a fill records before the engine has initialised the amount). */
export function encodeOrderFields(order: Partial<LedgerOrderFields>): Record<string, string> {
  const fields: Record<string, string> = {};
  if (order.lastOrderId) fields.last_order_id = order.lastOrderId;
  if (order.lastOrderTimeMs !== undefined && order.lastOrderTimeMs !== null) {
    fields.last_order_time_ms = String(order.lastOrderTimeMs);
    fields.last_order_time_epoch = String(Math.floor(order.lastOrderTimeMs / 1000));
  }
  if (order.lastPlanId) fields.last_plan_id = order.lastPlanId;
  if (order.lastResultId) fields.last_result_id = order.lastResultId;
  return fields;
}

/**
 * Applies one fill to a ledger amount: BUY adds, SELL subtracts. A reduce-only fill
 * only ever moves the amount toward zero and never across it.
 */
export function applyFill(amount: Amount, signedQty: Amount, reduceOnly: boolean): Amount {
  const next = amount.plus(signedQty);
  if (!reduceOnly) return next;
  if (amount.isZero()) return ZERO;
  if (next.isNegative() !== amount.isNegative() || next.isZero()) return ZERO;
  // A reduce-only fill in the direction of the position cannot happen; keep the ledger as is
  // so the drift shows up in reconciliation instead of being invented here.
  if (next.abs().gt(amount.abs())) return amount;
  return next;
}

export { EMPTY_ORDER };
