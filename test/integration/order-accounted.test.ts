/**
 * An order is counted in the ledger once, whichever record accounts for it first (SPEC §4,
 * §7 row 8) — through the REAL brain and the REAL reconcile engine on real Redis, with the
 * earlier system's own record shapes (`peer_shapes.json`):
 *
 * - forward: an order whose fill is not confirmed (a Binance ACK; an executor's UNKNOWN) →
 *   the exchange shows it → the engine AUTO_REPAIRs from it → the confirmed fill of the SAME
 *   order_id arrives later: the brain refuses it (the repair marked the order accounted),
 *   the ledger does not move twice, the refusal is counted and logged.
 * - a second record of the same unconfirmed order (a retried publish) cannot justify a
 *   second repair: the next move of that size is unexplained and holds.
 * - reverse: the confirmed fill arrives before the exchange shows the order: the brain
 *   applies it, the engine finds exchange and ledger equal and never repairs from the order.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { formatAmount } from '../../src/domain/amount.js';
import { captureLogs } from '../helpers/logs.js';
import { type StreamRecord, expectationOf, loadPeerShapes } from '../helpers/peer-shapes.js';
import { PeerStack } from '../helpers/peer-stack.js';

const SHAPES = loadPeerShapes();
// Large enough that one order's drift is within P34_QTY_DRIFT_TOLERANCE_PCT (1 %).
const POSITIONS = { BTCUSDT: '1', ETHUSDT: '20' };

let stack: PeerStack | undefined;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

function record(shapeStart: string): StreamRecord {
  const found = SHAPES.apply_result.find((r) => r.shape.startsWith(shapeStart));
  if (found === undefined) throw new Error(`no fixture record ${shapeStart}`);
  return found;
}

interface OrderCase {
  name: string;
  /** The order whose fill is not confirmed, as its writer recorded it. */
  order: StreamRecord;
  orderId: string;
  /** The same order once confirmed: the fields its writer changes. */
  confirmed: Record<string, string>;
}

/** apply_layer: the ACK (executed_qty 0.000), then the same step with executedQty filled in. */
function applyLayerCase(): OrderCase {
  const order = record('apply_layer publish_result / testnet close order, exchange ACK');
  const steps = JSON.parse(order.fields.steps_results as string) as Record<string, unknown>[];
  const filled = steps.map((step) => ({ ...step, executed_qty: step.quantity }));
  return {
    name: 'apply_layer ACK, then executedQty',
    order,
    orderId: String(steps[0]?.order_id),
    confirmed: { steps_results: JSON.stringify(filled) },
  };
}

/** intent_executor: order_status UNKNOWN / filled_qty 0.0, then FILLED with filled_qty = qty. */
function intentExecutorCase(): OrderCase {
  const order = record('intent_executor executed / fill not confirmed');
  const details = JSON.parse(order.fields.details as string) as Record<string, unknown>;
  return {
    name: 'intent_executor UNKNOWN, then FILLED',
    order,
    orderId: String(details.order_id),
    confirmed: {
      details: JSON.stringify({ ...details, filled_qty: details.qty, order_status: 'FILLED' }),
    },
  };
}

const CASES = [applyLayerCase(), intentExecutorCase()];

describe('an order accounted by a repair is never applied again', () => {
  it.each(CASES.map((c) => [c.name, c] as const))(
    '%s: unconfirmed → exchange shows it → AUTO_REPAIR → confirmed fill of the same order_id: ledger unchanged, counted, logged',
    async (_name, c) => {
      const logs = captureLogs();
      const s = await PeerStack.start(POSITIONS, { brainLogger: logs.logger });
      stack = s;
      const symbol = c.order.fields.symbol as string;
      const ledgerKey = s.t.keys.ledger(symbol);

      const { id: orderEntry } = await s.addResult(c.order);
      await s.handled(orderEntry);
      const move = await s.orderMove(symbol, expectationOf(c.order));
      const repair = await s.revealAndRepair(symbol, move);
      expect(repair).toMatchObject({
        evidence_entry_ids: orderEntry,
        evidence_order_id: c.orderId,
      });
      const repaired = await s.t.redis.hgetall(ledgerKey);

      // The exchange already shows this order; its confirmation must not move the ledger again.
      const { id: fillEntry } = await s.addResult(c.order, c.confirmed);
      await s.handled(fillEntry);
      const after = await s.t.redis.hgetall(ledgerKey);
      expect(after.ledger_amt, 'the ledger moved twice for one order').toBe(repaired.ledger_amt);
      expect(after.version).toBe(repaired.version);
      expect(
        await s.brainCounter('p33_fill_already_repaired_total', { symbol }),
        'refusal counted',
      ).toBe(1);
      const logged = logs.matching(fillEntry).filter((l) => l.order_id === c.orderId);
      expect(logged.map((l) => l.msg).join('\n')).toMatch(/already accounted/);
      await s.engine.engine.runOnce();
      expect(await s.t.redis.hget(s.t.keys.reconcileState(symbol), 'status')).toBe('OK');
      expect(await s.autoRepairs()).toHaveLength(1);
    },
    60_000,
  );

  it.each(CASES.map((c) => [c.name, c] as const))(
    '%s: the same unconfirmed order recorded again (a retried publish) never justifies a second repair',
    async (_name, c) => {
      const s = await PeerStack.start(POSITIONS);
      stack = s;
      const symbol = c.order.fields.symbol as string;
      const { id: first } = await s.addResult(c.order);
      await s.handled(first);
      const move = await s.orderMove(symbol, expectationOf(c.order));
      await s.revealAndRepair(symbol, move);
      const repaired = await s.ledgerAmt(symbol);

      // The record again, and the exchange moves once more by the same size: that move is
      // unexplained (the order is in the ledger already), so the engine holds.
      const { id: again } = await s.addResult(c.order);
      await s.handled(again);
      const movedAt = Date.now();
      s.venue.control.externalTrade(symbol, formatAmount(move));
      await s.snapshotShows(symbol, repaired.plus(move), movedAt);
      await s.engine.engine.runOnce();
      await s.engine.engine.runOnce();
      expect(await s.autoRepairs(), 'repaired twice from one order').toHaveLength(1);
      expect(await s.t.redis.hgetall(s.t.keys.reconcileState(symbol))).toMatchObject({
        status: 'HOLD',
        reason: 'qty_mismatch_no_evidence',
      });
      expect(await s.ledgerAmt(symbol)).toEqual(repaired);
    },
    60_000,
  );

  it.each(CASES.map((c) => [c.name, c] as const))(
    '%s, reverse order: the confirmed fill arrives before the exchange shows the order — applied once, never repaired from',
    async (_name, c) => {
      const s = await PeerStack.start(POSITIONS);
      stack = s;
      const symbol = c.order.fields.symbol as string;
      const start = await s.ledgerAmt(symbol);
      const move = await s.orderMove(symbol, expectationOf(c.order));

      const { id: orderEntry } = await s.addResult(c.order);
      await s.handled(orderEntry);
      const { id: fillEntry } = await s.addResult(c.order, c.confirmed);
      await s.handled(fillEntry);
      expect(await s.ledgerAmt(symbol)).toEqual(start.plus(move));

      const movedAt = Date.now();
      s.venue.control.externalTrade(symbol, formatAmount(move));
      await s.snapshotShows(symbol, start.plus(move), movedAt);
      await s.engine.engine.runOnce();
      await s.engine.engine.runOnce();
      expect(await s.autoRepairs()).toEqual([]);
      expect(await s.ledgerAmt(symbol)).toEqual(start.plus(move));
      expect(await s.t.redis.hget(s.t.keys.reconcileState(symbol), 'status')).toBe('OK');
      expect(await s.brainCounter('p33_fill_already_repaired_total', { symbol })).toBe(0);
    },
    60_000,
  );
});
