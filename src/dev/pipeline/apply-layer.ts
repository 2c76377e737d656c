/**
 * The Apply Layer stub: what the real Apply Layer does with a plan, through the real
 * parts. It consumes both permits through the gate (`consumePermits`, with its wait for a
 * late P3.3 permit), sends a reduce-only MARKET order for exactly `safe_close_qty` to the
 * venue over HTTP with the real Binance client, and writes the fill to `apply.result` in
 * the shapes real writers use. It also opens or grows positions now and then
 * (non-reduce-only orders, results with `reduce_only=false`) so there is something to close.
 *
 * For the `missed-result` scenario a symbol's next result can be withheld (the order
 * executes, the result never reaches the stream) and delivered late.
 */
import type { Redis } from 'ioredis';
import { type Amount, formatAmount } from '../../domain/amount.js';
import { isPlanId, isSymbol } from '../../domain/identifiers.js';
import type { Clock } from '../../domain/time.js';
import { errorMessage } from '../../errors.js';
import type { FuturesRestClient, OrderResult } from '../../exchange/types.js';
import { consumePermits } from '../../gate/consume-permits.js';
import type { Logger } from '../../observability/logger.js';
import type { Keys } from '../../redis/keys.js';
import type { PlanBook } from './plan-book.js';
import type { PlanEntry } from './plan-reader.js';
import {
  encodeExecutedResult,
  encodeNotExecutedResult,
  shapeForSequence,
  toStreamArgs,
} from './result-shapes.js';
import type { SymbolLocks } from './symbol-lock.js';

export interface ApplyLayerOptions {
  redis: Redis;
  keys: Keys;
  client: FuturesRestClient;
  book: PlanBook;
  locks: SymbolLocks;
  clock: Clock;
  logger: Logger;
  gateWaitMs: number;
}

interface OrderIntent {
  planId: string;
  symbol: string;
  side: 'BUY' | 'SELL';
  qty: string;
  reduceOnly: boolean;
}

export interface WithheldResult {
  planId: string;
  symbol: string;
  fields: Record<string, string>;
  /** Signed change the order made to the position. */
  signedQty: Amount;
}

export interface ApplyStats {
  plansSeen: number;
  gateRefusals: Record<string, number>;
  closeOrders: number;
  openOrders: number;
  orderErrors: number;
  resultsWritten: number;
  resultsWithheld: number;
}

export class ApplyLayerStub {
  #resultSeq = 0;
  #openSeq = 0;
  #orderSeq = 0;
  readonly #withhold = new Map<string, (withheld: WithheldResult) => void>();
  readonly stats: ApplyStats = {
    plansSeen: 0,
    gateRefusals: {},
    closeOrders: 0,
    openOrders: 0,
    orderErrors: 0,
    resultsWritten: 0,
    resultsWithheld: 0,
  };

  constructor(private readonly options: ApplyLayerOptions) {}

  /** Handles one apply.plan entry: gate, order, result. Never throws. */
  async handlePlan(entry: PlanEntry): Promise<void> {
    const { fields } = entry;
    const planId = fields.plan_id;
    const symbol = fields.symbol;
    // A real Apply Layer skips what it cannot even name; the brain counts it as bad input.
    if (!isPlanId(planId) || !isSymbol(symbol) || fields.decision !== 'EXECUTE') return;
    this.stats.plansSeen += 1;
    const { redis, keys, book, clock } = this.options;
    const gate = await consumePermits(redis, keys, planId, { waitMs: this.options.gateWaitMs });
    book.recordGate(planId, gate, clock.nowMs());
    if (!gate.ok) {
      const key = gate.p33Reason ? `${gate.code}:${gate.p33Reason}` : gate.code;
      this.stats.gateRefusals[key] = (this.stats.gateRefusals[key] ?? 0) + 1;
      return;
    }
    const exchangeAmt = gate.permit.exchangeAmt;
    if (exchangeAmt === null || exchangeAmt.isZero()) {
      this.options.logger.error(
        { planId },
        'apply stub: allow permit without an exchange position; not executing',
      );
      book.recordOrder(planId, 'failed');
      return;
    }
    const side = exchangeAmt.isNegative() ? 'BUY' : 'SELL';
    await this.options.locks.with(symbol, () =>
      this.#execute({ planId, symbol, side, qty: gate.safeCloseQty, reduceOnly: true }),
    );
  }

  /** Opens or grows a position (signed: > 0 buys, < 0 sells), as a non-reduce-only plan. */
  async openPosition(symbol: string, signedQty: Amount): Promise<void> {
    this.#openSeq += 1;
    const planId = `open:${symbol}:${this.#openSeq}`;
    const side = signedQty.isNegative() ? 'SELL' : 'BUY';
    await this.#execute({
      planId,
      symbol,
      side,
      qty: formatAmount(signedQty.abs()),
      reduceOnly: false,
    });
  }

  /** Reduces a position (signed: < 0 sells a long down) with a reduce-only order and its result. */
  async reducePosition(symbol: string, signedQty: Amount): Promise<void> {
    this.#openSeq += 1;
    await this.#execute({
      planId: `reduce:${symbol}:${this.#openSeq}`,
      symbol,
      side: signedQty.isNegative() ? 'SELL' : 'BUY',
      qty: formatAmount(signedQty.abs()),
      reduceOnly: true,
    });
  }

  /** The next executed result for `symbol` is kept off the stream and handed over. */
  withholdNextResult(symbol: string): Promise<WithheldResult> {
    return new Promise((resolve) => this.#withhold.set(symbol, resolve));
  }

  /** Forgets a pending withhold (the step gave up before an order executed). */
  cancelWithhold(symbol: string): void {
    this.#withhold.delete(symbol);
  }

  /** Writes a withheld result to the stream, late. */
  async deliverLate(withheld: WithheldResult): Promise<string> {
    return this.#writeResult(withheld.fields);
  }

  async #execute(order: OrderIntent): Promise<void> {
    const result = await this.#place(order);
    if (result === null) return;
    this.#resultSeq += 1;
    const fields = encodeExecutedResult(
      {
        planId: order.planId,
        symbol: order.symbol,
        orderId: result.orderId,
        side: result.side,
        executedQty: result.executedQty,
        reduceOnly: order.reduceOnly,
        timeMs: result.updateTimeMs,
      },
      shapeForSequence(this.#resultSeq),
    );
    const withhold = this.#withhold.get(order.symbol);
    if (withhold) {
      this.#withhold.delete(order.symbol);
      this.stats.resultsWithheld += 1;
      const signedQty = result.side === 'BUY' ? result.executedQty : result.executedQty.neg();
      withhold({ planId: order.planId, symbol: order.symbol, fields, signedQty });
      return;
    }
    await this.#writeResult(fields).catch((error: unknown) => {
      this.options.logger.error(
        { planId: order.planId, err: errorMessage(error) },
        'apply stub: executed order but could not write its result',
      );
    });
  }

  /** Sends the order; on failure writes a not-executed result and returns null. */
  async #place(order: OrderIntent): Promise<OrderResult | null> {
    const { client, book, clock, logger } = this.options;
    this.#orderSeq += 1;
    try {
      const result = await client.placeOrder({
        symbol: order.symbol,
        side: order.side,
        quantity: order.qty,
        reduceOnly: order.reduceOnly,
        newClientOrderId: `sim-${clock.nowMs() % 100_000_000}-${this.#orderSeq}`,
      });
      if (order.reduceOnly) this.stats.closeOrders += 1;
      else this.stats.openOrders += 1;
      book.recordOrder(order.planId, 'filled');
      return result;
    } catch (error) {
      this.stats.orderErrors += 1;
      book.recordOrder(order.planId, 'failed');
      logger.warn(
        { planId: order.planId, symbol: order.symbol, err: errorMessage(error) },
        'apply stub: order failed',
      );
      const fields = encodeNotExecutedResult({
        planId: order.planId,
        symbol: order.symbol,
        error: errorMessage(error).slice(0, 200),
        timeMs: clock.nowMs(),
      });
      await this.#writeResult(fields).catch(() => undefined);
      return null;
    }
  }

  async #writeResult(fields: Record<string, string>): Promise<string> {
    const id = await this.options.redis.xadd(
      this.options.keys.applyResultStream,
      '*',
      ...toStreamArgs(fields),
    );
    this.stats.resultsWritten += 1;
    return id ?? '';
  }
}
