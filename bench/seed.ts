/**
 * Direct fixtures for in-process scenarios: snapshots, ledgers and lot sizes written with
 * the product's own codecs, in pipelines of bounded size.
 */
import type { Redis } from 'ioredis';
import { Decimal, type Amount } from '../src/domain/amount.js';
import { encodeLedger } from '../src/domain/ledger.js';
import { encodeLotSize } from '../src/domain/lot-size.js';
import { encodeSnapshot } from '../src/domain/snapshot.js';
import type { Keys } from '../src/redis/keys.js';

const CHUNK = 2000;

export const BENCH_LOT = {
  stepSize: new Decimal('0.001'),
  minQty: new Decimal('0.001'),
  maxQty: new Decimal('1000'),
};

/** A deterministic, varied position for symbol number `i` (a third flat, some short). */
export function positionFor(i: number): Amount {
  if (i % 3 === 2) return new Decimal(0);
  const size = new Decimal(((i * 7919) % 5000) + 10).div(1000);
  return i % 5 === 1 ? size.neg() : size;
}

export interface SeedOptions {
  nowMs: number;
  /** Ledger amount per symbol; null = no ledger. Default: equal to the snapshot. */
  ledgerFor?: (symbol: string, i: number, exchange: Amount) => Amount | null;
  ttlSec?: number;
}

export async function seedSymbols(
  redis: Redis,
  keys: Keys,
  symbols: readonly string[],
  options: SeedOptions,
): Promise<void> {
  for (let start = 0; start < symbols.length; start += CHUNK) {
    const pipeline = redis.pipeline();
    symbols.slice(start, start + CHUNK).forEach((symbol, k) => {
      const i = start + k;
      const amount = positionFor(i);
      pipeline.hset(
        keys.snapshot(symbol),
        encodeSnapshot({
          amount,
          side: amount.isZero() ? 'FLAT' : amount.isNegative() ? 'SHORT' : 'LONG',
          entryPrice: new Decimal(100),
          markPrice: new Decimal(100),
          leverage: '5',
          unrealizedPnl: new Decimal(0),
          takenMs: options.nowMs,
          exchangeUpdateMs: options.nowMs - 60_000,
          source: 'rest',
        }),
      );
      pipeline.hset(keys.symbolLotSize(symbol), encodeLotSize(BENCH_LOT, options.nowMs));
      const ledger = options.ledgerFor ? options.ledgerFor(symbol, i, amount) : amount;
      if (ledger !== null) {
        pipeline.hset(
          keys.ledger(symbol),
          encodeLedger({
            amount: ledger,
            source: 'p34_init',
            nowMs: options.nowMs - 120_000,
            previousVersion: 0,
          }),
        );
      }
    });
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error !== null)?.[0];
    if (failed) throw failed;
  }
}

/** Deletes every key under `prefix:` (SCAN + UNLINK), so scenarios do not inherit state. */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
    cursor = next;
    if (found.length > 0) await redis.unlink(...found);
  } while (cursor !== '0');
}
