/**
 * The ledger updater (SPEC §4): reads `apply.result` through its own consumer group and
 * applies each executed fill to the ledger at most once (`brain_apply_fill.lua`:
 * compare-and-set on the ledger version, applied-marker, ack — LESSONS #11).
 *
 * A new group starts at '$': results already in the stream at the very first start are
 * reflected in the existing ledgers (or the engine initialises them from the exchange);
 * re-applying them would double-count. After that the group's position persists.
 */
import type { Redis } from 'ioredis';
import { epsilonFor } from '../domain/amount.js';
import { type Fill, parseApplyResult } from '../domain/apply-result.js';
import { decodeLedger } from '../domain/ledger.js';
import { decodeLotSize } from '../domain/lot-size.js';
import type { Clock } from '../domain/time.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Keys } from '../redis/keys.js';
import { type ApplyFillSettings, runApplyFill } from './apply-fill-script.js';
import { type ConsumerTuning, GroupConsumer } from './group-consumer.js';
import { symbolLabel } from './labels.js';
import { fillWrite } from './ledger-fill.js';
import type { BrainMetrics } from './metrics.js';
import type { StreamEntry } from './stream-group.js';

export const RESULT_GROUP = 'p33-ledger';
const MAX_CONFLICT_RETRIES = 5;

export interface LedgerUpdaterOptions extends ConsumerTuning {
  reader: Redis;
  redis: Redis;
  keys: Keys;
  consumer: string;
  allowlist: readonly string[];
  ledgerTtlSec: number;
  markerTtlSec: number;
  clock: Clock;
  metrics: BrainMetrics;
  logger: Logger;
  /** Called after each applied fill (the poller refreshes that snapshot soon). */
  onFill?: (symbol: string) => void;
}

export type FillOutcome = 'applied' | 'duplicate' | 'conflict' | 'unwritable';

export class LedgerUpdater {
  private readonly consumer: GroupConsumer;
  private readonly allowlist: ReadonlySet<string>;
  private readonly settings: ApplyFillSettings;

  constructor(private readonly options: LedgerUpdaterOptions) {
    this.allowlist = new Set(options.allowlist);
    this.settings = {
      group: RESULT_GROUP,
      ledgerTtlMs: options.ledgerTtlSec * 1000,
      markerTtlMs: options.markerTtlSec * 1000,
    };
    this.consumer = new GroupConsumer({
      name: 'ledger-updater',
      reader: options.reader,
      stream: options.keys.applyResultStream,
      group: RESULT_GROUP,
      consumer: options.consumer,
      startId: '$',
      count: options.count,
      blockMs: options.blockMs,
      claimIdleMs: options.claimIdleMs,
      claimEveryMs: options.claimEveryMs,
      handle: (entries) => this.handleBatch(entries),
      onError: (component) => options.metrics.loopErrorsTotal.inc({ component }),
      logger: options.logger,
    });
  }

  start(): void {
    this.consumer.start();
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  /** Applies a batch in stream order; entries that change no ledger are acked together. */
  async handleBatch(entries: StreamEntry[]): Promise<void> {
    const { redis, keys, metrics, logger } = this.options;
    const acks: string[] = [];
    for (const entry of entries) {
      const parsed = entry.fields === null ? null : parseApplyResult(entry.id, entry.fields);
      if (parsed === null || parsed.kind === 'bad') {
        metrics.badInputTotal.inc({ stream: 'apply.result' });
        logger.warn(
          {
            entry_id: entry.id,
            symbol: parsed?.symbol ?? null,
            problem: parsed?.problem ?? 'entry deleted while pending',
          },
          'bad apply.result entry acknowledged without a ledger change',
        );
        acks.push(entry.id);
      } else if (parsed.kind === 'no_fill') {
        acks.push(entry.id);
      } else {
        await this.applyOne(parsed.fill);
      }
    }
    if (acks.length > 0) await redis.xack(keys.applyResultStream, RESULT_GROUP, ...acks);
  }

  /** Reads, computes, compare-and-sets; retried on a concurrent ledger write. */
  async applyOne(fill: Fill): Promise<FillOutcome> {
    for (let attempt = 0; attempt < MAX_CONFLICT_RETRIES; attempt += 1) {
      const outcome = await this.tryApply(fill);
      if (outcome !== 'conflict') return outcome;
    }
    this.options.logger.warn(
      { entry_id: fill.entryId, symbol: fill.symbol },
      'ledger kept changing under this fill; left pending, retried on the next claim round',
    );
    return 'conflict';
  }

  private async tryApply(fill: Fill): Promise<FillOutcome> {
    const { redis, keys, metrics, logger } = this.options;
    let hash: Record<string, string>;
    let lotHash: Record<string, string>;
    try {
      [hash, lotHash] = await Promise.all([
        redis.hgetall(keys.ledger(fill.symbol)),
        redis.hgetall(keys.symbolLotSize(fill.symbol)),
      ]);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('WRONGTYPE'))) throw error;
      return this.unwritable(fill, errorMessage(error));
    }
    const read = decodeLedger(hash, epsilonFor(decodeLotSize(lotHash)?.stepSize));
    const write = fillWrite(read, fill, this.options.clock.nowMs());
    const reply = await runApplyFill(
      redis,
      keys,
      {
        symbol: fill.symbol,
        entryId: fill.entryId,
        expectedVersion: read.rawVersion,
        fields: write.fields,
      },
      this.settings,
    );
    if (reply !== 'applied') return reply;
    const symbol = symbolLabel(fill.symbol, this.allowlist);
    metrics.ledgerUpdateTotal.inc({ symbol });
    if (write.amount !== null) metrics.ledgerAmt.set({ symbol }, write.amount.toNumber());
    logger.info(
      {
        entry_id: fill.entryId,
        symbol: fill.symbol,
        side: fill.orderSide,
        qty: fill.qty.toFixed(),
        ledger_amt: write.amount?.toFixed() ?? null,
        ledger: read.kind,
      },
      write.amount === null
        ? 'fill recorded (order fields only: ledger has no usable amount)'
        : 'fill applied to ledger',
    );
    this.options.onFill?.(fill.symbol);
    return 'applied';
  }

  private async unwritable(fill: Fill, problem: string): Promise<FillOutcome> {
    const { redis, keys, metrics, logger } = this.options;
    metrics.loopErrorsTotal.inc({ component: 'ledger-updater' });
    logger.error(
      { entry_id: fill.entryId, symbol: fill.symbol, problem },
      'ledger key is not a hash; fill acknowledged unapplied',
    );
    await redis.xack(keys.applyResultStream, RESULT_GROUP, fill.entryId);
    return 'unwritable';
  }
}
