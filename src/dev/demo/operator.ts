/**
 * The demo's operator: what a person on call does to get a symbol out of a hold after an
 * external trade or a side flip (LESSONS #17). `adopt` is `posguard ledger adopt SYM`:
 * the same mutation module (`writeManualLedger`, manual_ledger.lua: version
 * compare-and-set, MANUAL_LEDGER_ADOPT audit event), taking the amount of a fresh
 * exchange snapshot.
 */
import type { Redis } from 'ioredis';
import type { Clock } from '../../domain/time.js';
import type { Keys } from '../../redis/keys.js';
import { adoptTarget } from '../../operator/adopt-target.js';
import { type ManualLedgerResult, writeManualLedger } from '../../operator/manual-ledger.js';

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
      target: (_state, nowMs) =>
        adoptTarget(
          redis,
          keys,
          symbol,
          { freshnessSec: this.options.freshnessSec, allowStale: false },
          nowMs,
        ),
    });
  }
}
