/**
 * The demo's operator: what a person on call does to get a symbol out of a hold after an
 * external trade or a side flip (LESSONS #17). `adopt` is `posguard ledger adopt SYM`:
 * the same mutation module (`writeManualLedger`, manual_ledger.lua: version
 * compare-and-set, MANUAL_LEDGER_ADOPT audit event), taking the amount of a fresh
 * exchange snapshot.
 */
import type { Redis } from 'ioredis';
import { formatAmount } from '../../domain/amount.js';
import { decodeSnapshot } from '../../domain/snapshot.js';
import type { Clock } from '../../domain/time.js';
import { PosguardError } from '../../errors.js';
import type { Keys } from '../../redis/keys.js';
import { type ManualLedgerResult, writeManualLedger } from '../../cli/manual/manual-ledger.js';

export interface OperatorOptions {
  redis: Redis;
  keys: Keys;
  clock: Clock;
  ledgerTtlSec: number;
  freshnessSec: number;
  name?: string;
}

export class DemoOperator {
  constructor(private readonly options: OperatorOptions) {}

  /** `posguard ledger adopt SYM --reason R --yes`: ledger := the fresh exchange snapshot. */
  async adopt(symbol: string, reason: string): Promise<ManualLedgerResult> {
    const { redis, keys, clock } = this.options;
    return writeManualLedger(redis, keys, {
      symbol,
      reason,
      operator: this.options.name ?? 'demo-operator',
      clock,
      ledgerTtlSec: this.options.ledgerTtlSec,
      target: async (_state, nowMs) => {
        const read = decodeSnapshot(await redis.hgetall(keys.snapshot(symbol)));
        if (read.kind !== 'ok') {
          throw new PosguardError('NOT_FOUND', `no readable exchange snapshot for ${symbol}`);
        }
        const ageSec = (nowMs - read.snapshot.takenMs) / 1000;
        if (ageSec > this.options.freshnessSec) {
          throw new PosguardError(
            'CONFLICT',
            `the snapshot of ${symbol} is ${ageSec.toFixed(1)} s old`,
          );
        }
        return {
          amount: read.snapshot.amount,
          event: 'MANUAL_LEDGER_ADOPT',
          details: {
            snapshot_amt: formatAmount(read.snapshot.amount),
            snapshot_ts_ms: String(read.snapshot.takenMs),
            snapshot_age_sec: ageSec.toFixed(3),
            allow_stale: '0',
          },
        };
      },
    });
  }
}
