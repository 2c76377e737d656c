/**
 * The sanity rules of the Position State Brain (SPEC §5): a pure, total function from
 * (plan, snapshot, ledger, hold, reconcile heartbeat, lot size, now) to ALLOW with a safe
 * close size, or DENY with the first failing check as `reason` and every failing check
 * in `failed`. Every check is evaluated; none short-circuits another.
 */
import { type Amount, Decimal, ZERO, epsilonFor, sideOf } from './amount.js';
import { permitQtyMismatchPct } from './drift-pct.js';
import type { LedgerRead } from './ledger.js';
import { type LotSize, floorToStep } from './lot-size.js';
import type { Plan } from './plan.js';
import type { SnapshotRead } from './snapshot.js';
import { ageSec } from './time.js';

export type DenyReason =
  | 'symbol_not_allowed'
  | 'unknown_action'
  | 'invalid_qty'
  | 'not_reduce_only'
  | 'plan_expired'
  | 'no_exchange_snapshot'
  | 'stale_exchange_state'
  | 'no_position'
  | 'no_ledger'
  | 'ledger_invalid'
  | 'reconcile_required_side_mismatch'
  | 'reconcile_required_qty_mismatch'
  | 'cooldown_in_flight'
  | 'reconcile_hold_active'
  | 'reconcile_engine_down'
  | 'qty_below_min'
  | 'unknown_lot_size'
  | 'internal_error';

/** Detail values are JSON scalars or decimals (written as exact JSON numbers). */
export type DetailValue = string | number | boolean | null | Amount;
export type Details = Record<string, DetailValue>;

export interface FailedCheck {
  /** Check number 0–9 of SPEC §5. */
  check: number;
  reason: DenyReason;
  details: Details;
}

export interface AllowDecision {
  allow: true;
  /** Positive size to close, a multiple of the step, ≤ |exchange amount|. */
  safeCloseQty: Amount;
  /** Signed (SHORT < 0). */
  exchangeAmt: Amount;
  /** Signed (SHORT < 0). */
  ledgerAmt: Amount;
  snapshotAgeSec: number;
  requestedQty: Amount;
  closeFraction: Amount | null;
  stepSize: Amount;
}

export interface DenyDecision {
  allow: false;
  reason: DenyReason;
  failed: FailedCheck[];
}

export type PermitDecision = AllowDecision | DenyDecision;

export interface RuleConfig {
  staleThresholdSec: number;
  cooldownSec: number;
  qtyTolerancePct: number;
  planMaxAgeSec: number;
  requireReconcile: boolean;
}

export interface RuleInputs {
  plan: Plan;
  snapshot: SnapshotRead;
  ledger: LedgerRead;
  holdPresent: boolean;
  reconcileHeartbeatPresent: boolean;
  /** The heartbeat names this symbol among those whose commit failed (check 8). */
  reconcileSymbolFailing?: boolean;
  lotSize: LotSize | null;
  nowMs: number;
  config: RuleConfig;
  allowlist: ReadonlySet<string>;
}

/** Check 2: below this the exchange holds no position (seed rule 2). */
export const MIN_POSITION = new Decimal('0.0001');

/** Seconds rounded to the millisecond, for details and permits. */
function sec(value: number): number {
  return Math.round(value * 1000) / 1000;
}

type Fail = (check: number, reason: DenyReason, details: Details) => void;

function checkPlan(inputs: RuleInputs, fail: Fail): void {
  const { plan, config, nowMs } = inputs;
  if (!plan.symbolValid || !inputs.allowlist.has(plan.symbol)) {
    fail(0, 'symbol_not_allowed', { symbol: plan.symbol });
  }
  if (plan.qtyProblem !== null) fail(0, 'invalid_qty', { problem: plan.qtyProblem });
  else if (plan.explicitQty === null && plan.closeFraction === null && !plan.opening) {
    fail(0, 'unknown_action', { action: plan.action });
  }
  // An opening action (ENTRY_PROPOSED) is never a close, whatever its reduceOnly flag says.
  if (plan.opening)
    fail(0, 'not_reduce_only', { action: plan.action, reduce_only: plan.reduceOnly });
  else if (plan.reduceOnly === false) fail(0, 'not_reduce_only', { reduce_only: false });
  const age = ageSec(nowMs, plan.timeMs);
  // A plan dated further in the future than the max age is a clock problem: also refused.
  if (!Number.isFinite(age) || age > config.planMaxAgeSec || age < -config.planMaxAgeSec) {
    fail(0, 'plan_expired', {
      plan_age_sec: sec(age),
      max_age_sec: config.planMaxAgeSec,
      time_source: plan.timeSource,
    });
  }
}

/** Check 1; returns the snapshot age when a snapshot was readable. */
function checkSnapshot(inputs: RuleInputs, fail: Fail): number | null {
  const { snapshot, config, nowMs } = inputs;
  if (snapshot.kind === 'missing') {
    fail(1, 'no_exchange_snapshot', {});
    return null;
  }
  if (snapshot.kind === 'invalid') {
    fail(1, 'no_exchange_snapshot', { problem: snapshot.problem });
    return null;
  }
  const age = ageSec(nowMs, snapshot.snapshot.takenMs);
  if (!Number.isFinite(age) || age > config.staleThresholdSec || age < -config.staleThresholdSec) {
    fail(1, 'stale_exchange_state', {
      snapshot_age_sec: sec(age),
      threshold_sec: config.staleThresholdSec,
    });
  }
  return age;
}

function checkAgreement(
  exchange: Amount,
  ledger: Amount,
  epsilon: Amount,
  inputs: RuleInputs,
  fail: Fail,
): void {
  const exSide = sideOf(exchange, epsilon);
  const ledgerSide = sideOf(ledger, epsilon);
  if (exSide !== 'FLAT' && ledgerSide !== 'FLAT' && exSide !== ledgerSide) {
    fail(4, 'reconcile_required_side_mismatch', {
      exchange_side: exSide,
      ledger_side: ledgerSide,
      exchange_amt: exchange,
      ledger_amt: ledger,
    });
  }
  const pct = permitQtyMismatchPct(exchange, ledger);
  if (pct === null) return; // no_position already says it; a percentage of zero means nothing
  if (pct.gt(inputs.config.qtyTolerancePct)) {
    fail(5, 'reconcile_required_qty_mismatch', {
      exchange_amt: exchange,
      ledger_amt: ledger,
      diff_pct: pct.toDecimalPlaces(4),
      tolerance_pct: inputs.config.qtyTolerancePct,
    });
  }
}

function lastOrderTimeMs(ledger: LedgerRead): number | null {
  if (ledger.kind === 'ok') return ledger.ledger.lastOrderTimeMs;
  if (ledger.kind === 'missing') return ledger.order.lastOrderTimeMs;
  return null;
}

/** Check 6 reads the last ORDER time only, never the ledger's update time (LESSONS #8). */
function checkCooldown(inputs: RuleInputs, fail: Fail): void {
  const last = lastOrderTimeMs(inputs.ledger);
  if (last === null) return;
  const since = ageSec(inputs.nowMs, last);
  const cooldown = inputs.config.cooldownSec;
  if (since < cooldown) {
    fail(6, 'cooldown_in_flight', {
      since_last_order_sec: sec(since),
      cooldown_sec: cooldown,
      cooldown_remaining_sec: sec(cooldown - since),
    });
  }
}

interface Sizing {
  requested: Amount;
  safe: Amount;
}

/** Check 9: requested = explicit qty or fraction × |ex|; safe = floor(min(requested, |ex|, max)). */
function checkSize(inputs: RuleInputs, exchange: Amount | null, fail: Fail): Sizing | null {
  const lot = inputs.lotSize;
  if (lot === null || !lot.stepSize.gt(0) || lot.minQty.isNegative()) {
    fail(9, 'unknown_lot_size', {});
    return null;
  }
  const { plan } = inputs;
  if (exchange === null || (plan.explicitQty === null && plan.closeFraction === null)) return null;
  const position = exchange.abs();
  const requested = plan.explicitQty ?? position.mul(plan.closeFraction ?? ZERO);
  let capped = Decimal.min(requested, position);
  if (lot.maxQty !== null && lot.maxQty.gt(0)) capped = Decimal.min(capped, lot.maxQty);
  const safe = floorToStep(capped, lot.stepSize);
  if (!safe.gt(0) || safe.lt(lot.minQty)) {
    fail(9, 'qty_below_min', {
      requested_qty: requested,
      safe_close_qty: safe,
      min_qty: lot.minQty,
      step_size: lot.stepSize,
    });
    return null;
  }
  return { requested, safe };
}

function exchangeAmount(snapshot: SnapshotRead): Amount | null {
  return snapshot.kind === 'ok' ? snapshot.snapshot.amount : null;
}

function checkPosition(exchange: Amount | null, fail: Fail): void {
  if (exchange !== null && exchange.abs().lt(MIN_POSITION)) {
    fail(2, 'no_position', { exchange_amt: exchange, min_position: MIN_POSITION });
  }
}

function checkLedger(inputs: RuleInputs, fail: Fail): Amount | null {
  const { ledger } = inputs;
  if (ledger.kind === 'missing') fail(3, 'no_ledger', {});
  else if (ledger.kind === 'invalid') fail(3, 'ledger_invalid', { problem: ledger.problem });
  return ledger.kind === 'ok' ? ledger.ledger.amount : null;
}

function checkReconcile(inputs: RuleInputs, fail: Fail): void {
  if (inputs.holdPresent) fail(7, 'reconcile_hold_active', { symbol: inputs.plan.symbol });
  if (inputs.config.requireReconcile && !inputs.reconcileHeartbeatPresent) {
    fail(8, 'reconcile_engine_down', { require_reconcile: true });
  } else if (inputs.config.requireReconcile && inputs.reconcileSymbolFailing === true) {
    // The engine is alive but its last commit for this symbol failed: nobody watches it.
    fail(8, 'reconcile_engine_down', { require_reconcile: true, symbol_failing: true });
  }
}

/**
 * Evaluates one EXECUTE plan. Total: any input yields a decision. The caller still wraps
 * the call, so an unexpected throw becomes an `internal_error` deny, never silence.
 */
export function evaluatePlan(inputs: RuleInputs): PermitDecision {
  const failed: FailedCheck[] = [];
  const fail: Fail = (check, reason, details) => failed.push({ check, reason, details });

  checkPlan(inputs, fail);
  const snapshotAge = checkSnapshot(inputs, fail);
  const exchange = exchangeAmount(inputs.snapshot);
  checkPosition(exchange, fail);
  const ledger = checkLedger(inputs, fail);
  if (exchange !== null && ledger !== null) {
    checkAgreement(exchange, ledger, epsilonFor(inputs.lotSize?.stepSize), inputs, fail);
  }
  checkCooldown(inputs, fail);
  checkReconcile(inputs, fail);
  const sizing = checkSize(inputs, exchange, fail);

  failed.sort((a, b) => a.check - b.check); // stable: the order within a check is kept
  const first = failed[0];
  if (first !== undefined) return { allow: false, reason: first.reason, failed };
  if (
    sizing === null ||
    exchange === null ||
    ledger === null ||
    snapshotAge === null ||
    inputs.lotSize === null
  ) {
    // Unreachable when every check passed; kept so a future edit cannot turn a gap into ALLOW.
    return {
      allow: false,
      reason: 'internal_error',
      failed: [{ check: -1, reason: 'internal_error', details: {} }],
    };
  }
  return {
    allow: true,
    safeCloseQty: sizing.safe,
    exchangeAmt: exchange,
    ledgerAmt: ledger,
    snapshotAgeSec: sec(snapshotAge),
    requestedQty: sizing.requested,
    closeFraction: inputs.plan.explicitQty === null ? inputs.plan.closeFraction : null,
    stepSize: inputs.lotSize.stepSize,
  };
}
