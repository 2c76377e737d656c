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
 *
 * With REDIS_MIN_REPLICAS_ACK = N ≥ 1 (`minReplicasAck`, the brain's value) the gate WAITs
 * for N replicas after a consume (`not_replicated` otherwise: no order), and an executed
 * order's result counts as written only once N replicas have it (replicated-result.ts), so a
 * Sentinel failover loses neither a consume nor a fill. `onGate`/`onOrder` report every gate
 * answer and every order placed, for the HA checks (ha-load.ts).
 */
import type { Redis } from 'ioredis';
import { type Amount, formatAmount } from '../../domain/amount.js';
import { isPlanId, isSymbol } from '../../domain/identifiers.js';
import type { Clock } from '../../domain/time.js';
import { errorMessage } from '../../errors.js';
import type { FuturesRestClient, OrderResult } from '../../exchange/types.js';
import { type GateResult, consumePermits } from '../../gate/consume-permits.js';
import type { Logger } from '../../observability/logger.js';
import type { Keys } from '../../redis/keys.js';
import type { PlanBook } from './plan-book.js';
import { writeResultReplicated } from './replicated-result.js';
import { DEFAULT_REPLICA_WAIT_MS } from '../../config/redis-config.js';
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
  /** REDIS_MIN_REPLICAS_ACK of the services (default 0: no WAIT anywhere). */
  minReplicasAck?: number;
  /** REDIS_REPLICA_WAIT_MS (default 500). */
  replicaWaitMs?: number;
  /** Every gate answer, as it came back (the Redis server's port the connection was on). */
  onGate?(event: GateEvent): void;
  /** Every order sent to the venue, before it is sent. */
  onOrder?(event: OrderEvent): void;
}

export interface GateEvent {
  planId: string;
  symbol: string;
  result: GateResult;
  atMs: number;
  /** Port of the Redis server the gate's connection was on when it answered (null: none). */
  serverPort: number | null;
}

export interface OrderEvent {
  planId: string;
  symbol: string;
  clientOrderId: string;
  side: 'BUY' | 'SELL';
  qty: string;
  reduceOnly: boolean;
  atMs: number;
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
  /** Executed results written again because a failover lost the first write (N ≥ 1). */
  resultsRewritten: number;
  /** Executed results the replicas never confirmed (gave up; N ≥ 1). */
  resultsUnconfirmed: number;
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
    resultsRewritten: 0,
    resultsUnconfirmed: 0,
  };
  #sendNextCloseTwice = false;

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
    const gate = await consumePermits(redis, keys, planId, {
      waitMs: this.options.gateWaitMs,
      minReplicasAck: this.options.minReplicasAck ?? 0,
      ...(this.options.replicaWaitMs === undefined
        ? {}
        : { replicaWaitMs: this.options.replicaWaitMs }),
    });
    book.recordGate(planId, gate, clock.nowMs());
    this.options.onGate?.({
      planId,
      symbol,
      result: gate,
      atMs: clock.nowMs(),
      serverPort: redis.stream?.remotePort ?? null,
    });
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
    const order: OrderIntent = { planId, symbol, side, qty: gate.safeCloseQty, reduceOnly: true };
    const twice = this.#sendNextCloseTwice;
    this.#sendNextCloseTwice = false;
    // The result's replication is confirmed outside the symbol's lock (it can take a failover).
    const written = await this.options.locks.with(symbol, async () => {
      const first = await this.#execute(order);
      return twice ? [first, await this.#execute(order)] : [first];
    });
    await Promise.all(written.map((w) => w.done));
  }

  /**
   * A broken Apply Layer, on purpose: the next allowed close is sent to the venue twice (two
   * orders, two results, one gate answer). Only for showing that a check of "one order per
   * plan" that reads the venue's order log catches it (`posguard demo --sabotage`).
   */
  sendNextCloseTwice(): void {
    this.#sendNextCloseTwice = true;
  }

  /** Opens or grows a position (signed: > 0 buys, < 0 sells), as a non-reduce-only plan. */
  async openPosition(symbol: string, signedQty: Amount): Promise<void> {
    this.#openSeq += 1;
    const planId = `open:${symbol}:${this.#openSeq}`;
    const side = signedQty.isNegative() ? 'SELL' : 'BUY';
    const written = await this.#execute({
      planId,
      symbol,
      side,
      qty: formatAmount(signedQty.abs()),
      reduceOnly: false,
    });
    await written.done;
  }

  /** Reduces a position (signed: < 0 sells a long down) with a reduce-only order and its result. */
  async reducePosition(symbol: string, signedQty: Amount): Promise<void> {
    this.#openSeq += 1;
    const written = await this.#execute({
      planId: `reduce:${symbol}:${this.#openSeq}`,
      symbol,
      side: signedQty.isNegative() ? 'SELL' : 'BUY',
      qty: formatAmount(signedQty.abs()),
      reduceOnly: true,
    });
    await written.done;
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

  /**
   * Places the order and sends its result; `done` settles once the result is written (at
   * N ≥ 1: once N replicas have it). The first XADD is sent before this returns, so results
   * reach the stream in the order the orders were placed.
   */
  async #execute(order: OrderIntent): Promise<{ done: Promise<void> }> {
    const idle = { done: Promise.resolve() };
    const result = await this.#place(order);
    if (result === null) return idle;
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
      return idle;
    }
    const minReplicasAck = this.options.minReplicasAck ?? 0;
    if (minReplicasAck > 0) {
      const done = writeResultReplicated(
        {
          redis: this.options.redis,
          stream: this.options.keys.applyResultStream,
          syncKey: `${this.options.keys.prefix}:sim:apply-result-sync`,
          minReplicasAck,
          replicaWaitMs: this.options.replicaWaitMs ?? DEFAULT_REPLICA_WAIT_MS,
          logger: this.options.logger,
        },
        fields,
        { symbol: order.symbol, orderId: result.orderId },
      ).then((write) => {
        if (write.entryId === null) this.stats.resultsUnconfirmed += 1;
        else this.stats.resultsWritten += 1;
        this.stats.resultsRewritten += Math.max(0, write.writes - 1);
      });
      return { done };
    }
    await this.#writeResult(fields).catch((error: unknown) => {
      this.options.logger.error(
        { planId: order.planId, err: errorMessage(error) },
        'apply stub: executed order but could not write its result',
      );
    });
    return idle;
  }

  /** Sends the order; on failure writes a not-executed result and returns null. */
  async #place(order: OrderIntent): Promise<OrderResult | null> {
    const { client, book, clock, logger } = this.options;
    this.#orderSeq += 1;
    const clientOrderId = `sim-${clock.nowMs() % 100_000_000}-${this.#orderSeq}`;
    this.options.onOrder?.({
      planId: order.planId,
      symbol: order.symbol,
      clientOrderId,
      side: order.side,
      qty: order.qty,
      reduceOnly: order.reduceOnly,
      atMs: clock.nowMs(),
    });
    try {
      const result = await client.placeOrder({
        symbol: order.symbol,
        side: order.side,
        quantity: order.qty,
        reduceOnly: order.reduceOnly,
        newClientOrderId: clientOrderId,
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
