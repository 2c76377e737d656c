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
 * Reads a ledger hash in any shape we have seen: canonical (`ledger_amt`/`ledger_side`),
 * legacy P3.3 (`last_known_amt`/`last_known_side`), or both.
 *
 * - amount = `ledger_amt`, else `last_known_amt`; its side field is the one of the same shape.
 * - Side = that side field when it is LONG/SHORT/FLAT, else the sign. When side and sign
 *   disagree (an operator edited one field), the side gives direction and |amount| the size.
 * - FLAT with |amount| > ε, or an unparseable amount or version, is invalid — never zero.
 */
export function decodeLedger(hash: Record<string, string>, epsilon: Amount): LedgerRead {
  const rawVersion = hash.version ?? '';
  const version = readVersion(hash.version);
  if (version === null)
    return { kind: 'invalid', problem: 'version is not an integer', rawVersion };
  const canonical = hash.ledger_amt !== undefined;
  const rawAmount = canonical ? hash.ledger_amt : hash.last_known_amt;
  const order = readOrder(hash);
  if (rawAmount === undefined) return { kind: 'missing', order, version, rawVersion };
  const parsed = parseAmount(rawAmount);
  if (parsed === null) {
    return {
      kind: 'invalid',
      problem: `amount ${JSON.stringify(rawAmount)} is not a decimal`,
      rawVersion,
    };
  }
  const declared = parseSide(canonical ? hash.ledger_side : hash.last_known_side);
  let amount: Amount;
  if (declared === 'FLAT') {
    if (parsed.abs().gt(epsilon)) {
      return {
        kind: 'invalid',
        problem: `side FLAT with amount ${formatAmount(parsed)}`,
        rawVersion,
      };
    }
    amount = ZERO;
  } else if (declared === 'LONG') amount = parsed.abs();
  else if (declared === 'SHORT') amount = parsed.abs().neg();
  else amount = parsed;
  if (amount.isZero()) amount = ZERO;
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

/** The hash fields of a ledger write: canonical fields plus the compatibility mirrors. */
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
