/**
 * `ledger adopt`'s target: the exchange snapshot's amount. Refuses a missing or unreadable
 * snapshot, and a stale one unless `allowStale`. Shared by the CLI and the demo's operator,
 * so both take exactly the same way out of a hold (LESSONS #17).
 */
import type { Redis } from 'ioredis';
import { formatAmount } from '../domain/amount.js';
import { PosguardError } from '../errors.js';
import type { Keys } from '../redis/keys.js';
import { symbolStateProjection } from '../redis/symbol-state.js';
import { readSymbolStates } from '../redis/symbol-state-reader.js';
import type { LedgerTarget } from './manual-ledger.js';

const SNAPSHOT = symbolStateProjection(['snapshot']);

/** Reads the snapshot and refuses a missing, invalid or (without --allow-stale) stale one. */
export async function adoptTarget(
  redis: Redis,
  keys: Keys,
  symbol: string,
  options: { freshnessSec: number; allowStale: boolean },
  nowMs: number,
): Promise<LedgerTarget> {
  const [state] = await readSymbolStates(redis, keys, [symbol], SNAPSHOT);
  const read = state?.snapshot ?? { kind: 'missing' };
  if (read.kind === 'missing') {
    throw new PosguardError(
      'NOT_FOUND',
      `no exchange snapshot for ${symbol} (${keys.snapshot(symbol)}); is the brain running?`,
    );
  }
  if (read.kind === 'invalid') {
    throw new PosguardError(
      'NOT_FOUND',
      `the exchange snapshot of ${symbol} is unreadable: ${read.problem}`,
    );
  }
  const ageSec = (nowMs - read.snapshot.takenMs) / 1000;
  const limit = options.freshnessSec;
  if (ageSec > limit && !options.allowStale) {
    throw new PosguardError(
      'CONFLICT',
      `the exchange snapshot of ${symbol} is ${ageSec.toFixed(1)} s old (> P34_EXCHANGE_FRESHNESS_SEC=${limit}); ` +
        'wait for a fresh one (is the brain polling?) or pass --allow-stale',
    );
  }
  return {
    amount: read.snapshot.amount,
    event: 'MANUAL_LEDGER_ADOPT',
    details: {
      snapshot_amt: formatAmount(read.snapshot.amount),
      snapshot_ts_ms: String(read.snapshot.takenMs),
      snapshot_age_sec: ageSec.toFixed(3),
      allow_stale: options.allowStale ? '1' : '0',
    },
  };
}
