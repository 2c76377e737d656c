/**
 * Binance USD-M user-data stream messages posguard reads, validated with zod:
 * ACCOUNT_UPDATE (position rows `a.P`), ORDER_TRADE_UPDATE (`o`), listenKeyExpired.
 * Other event types exist (MARGIN_CALL, ACCOUNT_CONFIG_UPDATE, TRADE_LITE…) and are ignored.
 */
import { z } from 'zod';
import type { Amount } from '../domain/amount.js';
import { decimal } from './schemas.js';
import type { PositionSideMode } from './types.js';

const epochMs = z.number().int().nonnegative();
const positionSide = z.enum(['BOTH', 'LONG', 'SHORT']);

const accountUpdateSchema = z.object({
  e: z.literal('ACCOUNT_UPDATE'),
  E: epochMs,
  T: epochMs.optional(),
  a: z.object({
    m: z.string().optional(),
    P: z
      .array(
        z.object({
          s: z.string().min(1),
          pa: decimal,
          ep: decimal.optional(),
          up: decimal.optional(),
          ps: positionSide,
        }),
      )
      .default([]),
  }),
});

const orderTradeUpdateSchema = z.object({
  e: z.literal('ORDER_TRADE_UPDATE'),
  E: epochMs,
  T: epochMs.optional(),
  o: z.object({
    s: z.string().min(1),
    c: z.string().optional(),
    S: z.enum(['BUY', 'SELL']),
    o: z.string(),
    x: z.string(),
    X: z.string(),
    i: z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)]),
    q: decimal,
    l: decimal,
    z: decimal,
    ap: decimal.optional(),
    R: z.boolean().optional(),
    ps: positionSide.optional(),
    T: epochMs.optional(),
  }),
});

const listenKeyExpiredSchema = z.object({ e: z.literal('listenKeyExpired'), E: epochMs });

export interface AccountPosition {
  symbol: string;
  positionAmt: Amount;
  entryPrice: Amount | null;
  unrealizedProfit: Amount | null;
  positionSide: PositionSideMode;
}

export interface AccountUpdate {
  type: 'account_update';
  eventTimeMs: number;
  transactionTimeMs: number | null;
  /** `a.m`: ORDER, FUNDING_FEE, DEPOSIT… */
  reason: string | null;
  positions: AccountPosition[];
}

export interface OrderUpdate {
  type: 'order_update';
  eventTimeMs: number;
  symbol: string;
  orderId: string;
  clientOrderId: string | null;
  side: 'BUY' | 'SELL';
  orderType: string;
  /** `x`: NEW, TRADE, CANCELED, EXPIRED… */
  executionType: string;
  /** `X`: NEW, PARTIALLY_FILLED, FILLED… */
  status: string;
  origQty: Amount;
  lastFilledQty: Amount;
  cumulativeFilledQty: Amount;
  avgPrice: Amount | null;
  reduceOnly: boolean;
  positionSide: PositionSideMode | null;
  tradeTimeMs: number | null;
}

export type StreamMessage =
  | AccountUpdate
  | OrderUpdate
  | { type: 'listen_key_expired' }
  | { type: 'ignored' }
  | { type: 'malformed'; why: string };

/** Classifies one raw frame. Never throws. */
export function parseStreamMessage(raw: string): StreamMessage {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { type: 'malformed', why: 'not JSON' };
  }
  if (
    typeof json !== 'object' ||
    json === null ||
    typeof (json as { e?: unknown }).e !== 'string'
  ) {
    return { type: 'malformed', why: 'no event type' };
  }
  switch ((json as { e: string }).e) {
    case 'ACCOUNT_UPDATE':
      return fromResult(accountUpdateSchema.safeParse(json), toAccountUpdate);
    case 'ORDER_TRADE_UPDATE':
      return fromResult(orderTradeUpdateSchema.safeParse(json), toOrderUpdate);
    case 'listenKeyExpired':
      return fromResult(
        listenKeyExpiredSchema.safeParse(json),
        () => ({ type: 'listen_key_expired' }) as const,
      );
    default:
      return { type: 'ignored' };
  }
}

function fromResult<T, R extends StreamMessage>(
  result: { success: true; data: T } | { success: false; error: z.ZodError },
  map: (data: T) => R,
): StreamMessage {
  if (result.success) return map(result.data);
  const issue = result.error.issues[0];
  return {
    type: 'malformed',
    why: issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid',
  };
}

function toAccountUpdate(msg: z.output<typeof accountUpdateSchema>): AccountUpdate {
  return {
    type: 'account_update',
    eventTimeMs: msg.E,
    transactionTimeMs: msg.T ?? null,
    reason: msg.a.m ?? null,
    positions: msg.a.P.map((p) => ({
      symbol: p.s,
      positionAmt: p.pa,
      entryPrice: p.ep ?? null,
      unrealizedProfit: p.up ?? null,
      positionSide: p.ps,
    })),
  };
}

function toOrderUpdate(msg: z.output<typeof orderTradeUpdateSchema>): OrderUpdate {
  const o = msg.o;
  return {
    type: 'order_update',
    eventTimeMs: msg.E,
    symbol: o.s,
    orderId: String(o.i),
    clientOrderId: o.c ?? null,
    side: o.S,
    orderType: o.o,
    executionType: o.x,
    status: o.X,
    origQty: o.q,
    lastFilledQty: o.l,
    cumulativeFilledQty: o.z,
    avgPrice: o.ap !== undefined && o.ap.gt(0) ? o.ap : null,
    reduceOnly: o.R ?? false,
    positionSide: o.ps ?? null,
    tradeTimeMs: o.T ?? null,
  };
}
