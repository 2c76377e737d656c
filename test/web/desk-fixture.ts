/**
 * A desk as the services leave it, written with the services' own codecs: snapshots,
 * ledgers, lot sizes, the engine's state hashes, holds (the engine's, with its marker, and
 * an operator's SETEX), heartbeats, events, plans with their plan-seen markers and permits.
 */
import type { Redis } from 'ioredis';
import { Decimal } from '../../src/domain/amount.js';
import { encodeLedger } from '../../src/domain/ledger.js';
import { encodeSnapshot } from '../../src/domain/snapshot.js';
import type { Keys } from '../../src/redis/keys.js';

export interface SymbolFixture {
  symbol: string;
  exchange: string;
  ledger: string;
  status: 'OK' | 'DRIFT' | 'HOLD' | 'REPAIRED' | 'MANUAL_REQUIRED';
  reason: string;
  /** p34: the engine's hold (with marker); operator: a bare SETEX. */
  hold?: 'p34' | 'operator';
  snapshotAgeMs?: number;
}

export async function seedSymbols(
  redis: Redis,
  keys: Keys,
  symbols: readonly SymbolFixture[],
  nowMs = Date.now(),
): Promise<void> {
  const pipeline = redis.pipeline();
  for (const s of symbols) {
    pipeline.hset(
      keys.snapshot(s.symbol),
      encodeSnapshot({
        amount: new Decimal(s.exchange),
        side: 'FLAT',
        entryPrice: null,
        markPrice: null,
        leverage: '10',
        unrealizedPnl: null,
        takenMs: nowMs - (s.snapshotAgeMs ?? 1200),
        exchangeUpdateMs: null,
        source: 'rest',
      }),
    );
    pipeline.hset(
      keys.ledger(s.symbol),
      encodeLedger({
        amount: new Decimal(s.ledger),
        source: 'apply',
        nowMs: nowMs - 30_000,
        previousVersion: 3,
      }),
    );
    pipeline.hset(keys.symbolLotSize(s.symbol), {
      step_size: '0.001',
      min_qty: '0.001',
      max_qty: '1000',
    });
    const diff = new Decimal(s.exchange).minus(s.ledger);
    pipeline.hset(keys.reconcileState(s.symbol), {
      status: s.status,
      reason: s.reason,
      exchange_amt: s.exchange,
      ledger_amt: s.ledger,
      diff_amt: diff.toFixed(),
      since_ts: String(Math.floor((nowMs - 95_000) / 1000)),
      since_ts_ms: String(nowMs - 95_000),
      last_seen_ts: String(Math.floor(nowMs / 1000)),
      ts_ms: String(nowMs),
      hold_by: s.hold === 'p34' ? 'p34' : s.hold === 'operator' ? 'foreign' : '',
    });
    if (s.hold === 'p34') pipeline.set(keys.hold(s.symbol), '1', 'PX', 300_000);
    else if (s.hold === 'operator') pipeline.setex(keys.hold(s.symbol), 3600, '1');
  }
  await pipeline.exec();
  // The engine's marker records its hold's exact expiry (SPEC §7, reconcile_commit.lua).
  for (const s of symbols.filter((f) => f.hold === 'p34')) {
    const expireAt = String(await redis.pexpiretime(keys.hold(s.symbol)));
    await redis.set(keys.holdOwner(s.symbol), `p34:${expireAt}`, 'PX', 300_000);
  }
}

export async function seedHeartbeats(redis: Redis, keys: Keys, nowMs = Date.now()): Promise<void> {
  await redis.set(
    keys.reconcileHeartbeat,
    JSON.stringify({
      ts_ms: nowMs,
      ts_epoch: Math.floor(nowMs / 1000),
      pid: 4242,
      host: 'desk-1',
      cycle: 8125,
      symbols: 12,
      cadence_sec: 1,
    }),
    'PX',
    3_600_000,
  );
  await redis.set(
    keys.brainHeartbeat,
    JSON.stringify({
      ts_ms: nowMs,
      ts_epoch: Math.floor(nowMs / 1000),
      pid: 4241,
      consumer: 'brain-desk-1',
    }),
    'PX',
    3_600_000,
  );
}

export async function addEvent(
  redis: Redis,
  keys: Keys,
  fields: Record<string, string>,
  nowMs = Date.now(),
): Promise<string> {
  const flat = Object.entries({
    ts: String(Math.floor(nowMs / 1000)),
    ts_ms: String(nowMs),
    ...fields,
  }).flat();
  return (await redis.xadd(keys.reconcileEventsStream, '*', ...flat)) as string;
}

/** A plan on apply.plan answered like the brain does (marker + permit). */
export async function addAnsweredPlan(
  redis: Redis,
  keys: Keys,
  plan: {
    id: string;
    symbol: string;
    action: string;
    allow: boolean;
    reason?: string;
    qty?: string;
  },
): Promise<void> {
  const entry = (await redis.xadd(
    keys.applyPlanStream,
    '*',
    ...[
      'plan_id',
      plan.id,
      'decision',
      'EXECUTE',
      'symbol',
      plan.symbol,
      'action',
      plan.action,
      'reduceOnly',
      'true',
    ],
  )) as string;
  const outcome = plan.allow ? 'allow' : `deny:${plan.reason ?? 'unknown'}`;
  await redis.set(keys.planSeen(plan.id), `${outcome} ${entry}`, 'PX', 3_600_000);
  const permit = plan.allow
    ? {
        plan_id: plan.id,
        symbol: plan.symbol,
        allow: true,
        safe_close_qty: Number(plan.qty ?? '0.01'),
      }
    : { plan_id: plan.id, symbol: plan.symbol, allow: false, reason: plan.reason };
  await redis.set(keys.permitP33(plan.id), JSON.stringify(permit), 'PX', 3_600_000);
}

/** The twelve-symbol desk of the screenshot: mostly OK, one DRIFT, holds, a repair. */
export const SCREENSHOT_DESK: SymbolFixture[] = [
  { symbol: 'BTCUSDT', exchange: '0.038', ledger: '0.038', status: 'OK', reason: '' },
  { symbol: 'ETHUSDT', exchange: '-1.25', ledger: '-1.25', status: 'OK', reason: '' },
  {
    symbol: 'SOLUSDT',
    exchange: '12',
    ledger: '9',
    status: 'HOLD',
    reason: 'qty_mismatch_no_evidence',
    hold: 'p34',
  },
  {
    symbol: 'XRPUSDT',
    exchange: '1500',
    ledger: '1500',
    status: 'OK',
    reason: '',
    hold: 'operator',
  },
  {
    symbol: 'BNBUSDT',
    exchange: '0.8',
    ledger: '0.75',
    status: 'DRIFT',
    reason: 'awaiting_snapshot',
  },
  {
    symbol: 'DOGEUSDT',
    exchange: '-4000',
    ledger: '-4000',
    status: 'REPAIRED',
    reason: 'auto_fixed',
  },
  { symbol: 'ADAUSDT', exchange: '0', ledger: '0', status: 'OK', reason: '' },
  { symbol: 'AVAXUSDT', exchange: '35', ledger: '35', status: 'OK', reason: '' },
  { symbol: 'LINKUSDT', exchange: '-80', ledger: '-80', status: 'OK', reason: '' },
  {
    symbol: 'LTCUSDT',
    exchange: '4.2',
    ledger: '-4.2',
    status: 'MANUAL_REQUIRED',
    reason: 'side_mismatch',
    hold: 'p34',
  },
  { symbol: 'DOTUSDT', exchange: '0', ledger: '0', status: 'OK', reason: '' },
  { symbol: 'TRXUSDT', exchange: '25000', ledger: '25000', status: 'OK', reason: '' },
];
