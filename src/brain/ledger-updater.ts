/**
 * The ledger updater (SPEC §4): reads `apply.result` through its own consumer group and
 * writes each executed result to the ledger at most once (`brain_apply_fill.lua`:
 * compare-and-set on the ledger version, applied-marker, ack — LESSONS #11), by its kind:
 *
 * - fill: snapped to the lot step when within float noise (an off-step quantity is kept
 *   exactly and counted), then applied;
 * - order whose fill is not confirmed: its last-order fields only (the cooldown); the
 *   engine repairs from it once the exchange shows it;
 * - not executed: acked; malformed: counted (`p33_bad_input_total`), logged, acked.
 *
 * A new group starts at '$': results already in the stream at the very first start are
 * reflected in the existing ledgers (or the engine initialises them from the exchange);
 * re-applying them would double-count. After that the group's position persists.
 */
import type { Redis } from 'ioredis';
import { epsilonFor } from '../domain/amount.js';
import {
  type Fill,
  type UnconfirmedOrder,
  parseApplyResult,
  snapFill,
} from '../domain/apply-result.js';
import { type LedgerRead, decodeLedger } from '../domain/ledger.js';
import { type LotSize, decodeLotSize } from '../domain/lot-size.js';
import type { Clock } from '../domain/time.js';
import type { Scheduler } from '../runtime/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Keys } from '../redis/keys.js';
import { type ApplyFillSettings, brainApplyFill } from '../redis/scripts/brain-apply-fill.js';
import { runScript } from '../redis/scripts/script.js';
import { type ConsumerTuning, GroupConsumer } from './group-consumer.js';
import { symbolLabel } from './labels.js';
import { type FillWrite, fillWrite, orderWrite } from '../domain/ledger-fill.js';
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
  /** Timers of the read loop (default: the system's). */
  scheduler?: Scheduler;
  metrics: BrainMetrics;
  logger: Logger;
  /** Called after each applied fill or recorded order (the poller refreshes that snapshot soon). */
  onFill?: (symbol: string) => void;
}

export type FillOutcome =
  'applied' | 'recorded' | 'duplicate' | 'conflict' | 'order_accounted' | 'unwritable';

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
      clock: options.clock,
      ...(options.scheduler ? { scheduler: options.scheduler } : {}),
    });
  }

  start(): void {
    this.consumer.start();
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  /** Writes a batch in stream order; entries that change no ledger are acked together. */
  async handleBatch(entries: StreamEntry[]): Promise<void> {
    const { redis, keys, metrics, logger } = this.options;
    const acks: string[] = [];
    for (const entry of entries) {
      const parsed = entry.fields === null ? null : parseApplyResult(entry.id, entry.fields);
      if (parsed === null || parsed.kind === 'malformed') {
        metrics.badInputTotal.inc({ stream: 'apply.result' });
        logger.warn(
          {
            entry_id: entry.id,
            symbol: parsed?.symbol ?? null,
            problem: parsed?.problem ?? 'entry deleted while pending',
          },
          'bad apply.result entry (malformed) acknowledged without a ledger change',
        );
        acks.push(entry.id);
      } else if (parsed.kind === 'not_executed') {
        acks.push(entry.id);
      } else {
        await this.applyOne(parsed.kind === 'fill' ? parsed.fill : parsed.order);
      }
    }
    if (acks.length > 0) await redis.xack(keys.applyResultStream, RESULT_GROUP, ...acks);
  }

  /** Reads, computes, compare-and-sets; retried on a concurrent ledger write. */
  async applyOne(result: Fill | UnconfirmedOrder): Promise<FillOutcome> {
    for (let attempt = 0; attempt < MAX_CONFLICT_RETRIES; attempt += 1) {
      const outcome = await this.tryApply(result);
      if (outcome !== 'conflict') return outcome;
    }
    this.options.logger.warn(
      { entry_id: result.entryId, symbol: result.symbol },
      'ledger kept changing under this result; left pending, retried on the next claim round',
    );
    return 'conflict';
  }

  /** The ledger and the lot size; a wrong-typed lot-size key only means "step unknown". */
  private async readState(
    symbol: string,
  ): Promise<{ hash: Record<string, string>; lot: LotSize | null } | { problem: string }> {
    const { redis, keys } = this.options;
    const replies = (await redis
      .pipeline()
      .hgetall(keys.ledger(symbol))
      .hgetall(keys.symbolLotSize(symbol))
      .exec()) ?? [[new Error('pipeline discarded'), null]];
    const [ledgerErr, hash] = replies[0] ?? [new Error('no reply'), null];
    const [lotErr, lotHash] = replies[1] ?? [new Error('no reply'), null];
    if (ledgerErr) {
      if (!ledgerErr.message.startsWith('WRONGTYPE')) throw ledgerErr;
      return { problem: `${keys.ledger(symbol)}: ${ledgerErr.message}` };
    }
    const lot = lotErr ? null : decodeLotSize(lotHash as Record<string, string>);
    return { hash: hash as Record<string, string>, lot };
  }

  private async tryApply(result: Fill | UnconfirmedOrder): Promise<FillOutcome> {
    const { redis, keys } = this.options;
    const state = await this.readState(result.symbol);
    if ('problem' in state) return this.unwritable(result, state.problem);
    const read = decodeLedger(state.hash, epsilonFor(state.lot?.stepSize));
    const { write, fill } = this.computeWrite(read, result, state.lot);
    const reply = await runScript(redis, brainApplyFill, {
      keys,
      symbol: result.symbol,
      entryId: result.entryId,
      expectedVersion: read.rawVersion,
      fields: write.fields,
      mode: fill === null ? 'order' : 'fill',
      orderId: result.orderId,
      ...this.settings,
    });
    if (reply.status === 'wrong_type')
      return this.unwritable(result, `${reply.key} holds another Redis type (${reply.found})`);
    if (reply.status === 'duplicate' || reply.status === 'conflict') return reply.status;
    if (reply.status === 'order_accounted') return this.alreadyRepaired(result);
    if (fill === null) this.logOrder(result as UnconfirmedOrder, read);
    else this.logFill(fill, write, read);
    return reply.status;
  }

  private computeWrite(
    read: LedgerRead,
    result: Fill | UnconfirmedOrder,
    lot: LotSize | null,
  ): { write: FillWrite; fill: Fill | null } {
    if (result.kind === 'unconfirmed_order') return { write: orderWrite(read, result), fill: null };
    const snapped = snapFill(result, lot?.stepSize ?? null);
    if (snapped.offStep) {
      const symbol = symbolLabel(result.symbol, this.allowlist);
      this.options.metrics.offStepQtyTotal.inc({ symbol });
      this.options.logger.warn(
        {
          entry_id: result.entryId,
          symbol: result.symbol,
          qty: result.qty.toFixed(),
          step: lot?.stepSize.toFixed(),
        },
        'fill quantity is off the lot step (more than float noise); applied exactly as sent',
      );
    }
    const nowMs = this.options.clock.nowMs();
    return { write: fillWrite(read, snapped.fill, nowMs), fill: snapped.fill };
  }

  private logFill(fill: Fill, write: FillWrite, read: LedgerRead): void {
    const { metrics, logger } = this.options;
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
  }

  private logOrder(order: UnconfirmedOrder, read: LedgerRead): void {
    this.options.logger.info(
      {
        entry_id: order.entryId,
        symbol: order.symbol,
        side: order.orderSide ?? 'toward_flat',
        ordered_qty: order.qty.toFixed(),
        order_id: order.orderId,
        ledger: read.kind,
      },
      'order whose fill is not confirmed: last-order fields recorded, ledger amount unchanged (engine evidence)',
    );
    // The exchange may already show the order: a fresh snapshot lets the engine repair sooner.
    this.options.onFill?.(order.symbol);
  }

  /** A confirmed fill of an order the engine already repaired the ledger from: not applied. */
  private alreadyRepaired(result: Fill | UnconfirmedOrder): FillOutcome {
    const symbol = symbolLabel(result.symbol, this.allowlist);
    this.options.metrics.fillAlreadyRepairedTotal.inc({ symbol });
    this.options.logger.warn(
      {
        entry_id: result.entryId,
        symbol: result.symbol,
        order_id: result.orderId,
        qty: result.qty.toFixed(),
      },
      'fill not applied: its order is already accounted in the ledger (the reconcile engine repaired from it while its fill was unconfirmed)',
    );
    return 'order_accounted';
  }

  private async unwritable(result: Fill | UnconfirmedOrder, problem: string): Promise<FillOutcome> {
    const { redis, keys, metrics, logger } = this.options;
    metrics.loopErrorsTotal.inc({ component: 'ledger-updater' });
    logger.error(
      { entry_id: result.entryId, symbol: result.symbol, problem },
      'ledger cannot be written (a key holds another Redis type); result acknowledged unapplied',
    );
    await redis.xack(keys.applyResultStream, RESULT_GROUP, result.entryId);
    return 'unwritable';
  }
}
