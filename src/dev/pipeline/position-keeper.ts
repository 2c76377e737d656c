/**
 * Keeps something to close: every `everyMs` it reads all positions in one positionRisk
 * call and, for each symbol no scenario step has taken over, grows a position that the
 * close plans have worn below 40 % of its target back to the target, through the Apply
 * Layer stub (a non-reduce-only order and its `reduce_only=false` result). A flat symbol
 * reopens in the direction of its target; a flipped one keeps its new direction.
 */
import { type Amount, ZERO } from '../../domain/amount.js';
import { type LotSize, floorToStep } from '../../domain/lot-size.js';
import { errorMessage } from '../../errors.js';
import type { FuturesRestClient } from '../../exchange/types.js';
import type { Logger } from '../../observability/logger.js';
import type { ApplyLayerStub } from './apply-layer.js';
import type { SymbolLocks } from './symbol-lock.js';

export interface PositionKeeperOptions {
  client: FuturesRestClient;
  apply: ApplyLayerStub;
  locks: SymbolLocks;
  logger: Logger;
  /** Signed target per symbol: > 0 LONG, < 0 SHORT. */
  targets: ReadonlyMap<string, Amount>;
  everyMs: number;
  /** Refill when |position| < target × this (default 0.4). */
  refillBelow?: number;
}

/** The signed order that brings `position` back to |target| in its direction; null if none is due. */
export function refillOrder(
  position: Amount,
  target: Amount,
  lot: LotSize,
  refillBelow: number,
): Amount | null {
  const size = target.abs();
  if (position.abs().gte(size.mul(refillBelow))) return null;
  const direction = position.isZero() ? target.s : position.s;
  const qty = floorToStep(size.minus(position.abs()), lot.stepSize);
  if (qty.lt(lot.minQty) || qty.isZero()) return null;
  return direction < 0 ? qty.neg() : qty;
}

export class PositionKeeper {
  #timer: NodeJS.Timeout | null = null;
  #lots: Map<string, LotSize> | null = null;
  #failing = false;
  #busy = false;
  readonly #excluded = new Set<string>();

  constructor(private readonly options: PositionKeeperOptions) {}

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.tick(), this.options.everyMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  exclude(symbol: string): void {
    this.#excluded.add(symbol);
  }

  release(symbol: string): void {
    this.#excluded.delete(symbol);
  }

  /** One refill round; exported for the first fill at start. */
  async tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      this.#lots ??= await this.options.client.lotSizes();
      const rows = await this.options.client.positionRisk();
      const positions = new Map(rows.map((row) => [row.symbol, row.positionAmt]));
      for (const [symbol, target] of this.options.targets) {
        if (this.#excluded.has(symbol)) continue;
        await this.#refill(symbol, positions.get(symbol) ?? ZERO, target);
      }
      if (this.#failing) this.options.logger.info('position keeper: exchange reachable again');
      this.#failing = false;
    } catch (error) {
      if (!this.#failing) {
        this.options.logger.warn({ err: errorMessage(error) }, 'position keeper: round failed');
      }
      this.#failing = true;
    } finally {
      this.#busy = false;
    }
  }

  async #refill(symbol: string, position: Amount, target: Amount): Promise<void> {
    const lot = this.#lots?.get(symbol);
    if (!lot) return;
    const order = refillOrder(position, target, lot, this.options.refillBelow ?? 0.4);
    if (order === null) return;
    await this.options.locks.with(symbol, async () => {
      // A scenario step may have taken the symbol over while this round waited for the lock.
      if (!this.#excluded.has(symbol)) await this.options.apply.openPosition(symbol, order);
    });
  }
}
