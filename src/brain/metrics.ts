/**
 * The brain's metrics (SPEC §9), on a registry of its own. Names are the seed's, exactly.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ExchangeRequestEvent } from '../exchange/binance-client.js';

export interface BrainMetrics {
  registry: Registry;
  snapshotTotal: Counter<'symbol' | 'status'>;
  ledgerUpdateTotal: Counter<'symbol'>;
  permitTotal: Counter<'symbol' | 'decision'>;
  permitDenyTotal: Counter<'symbol' | 'reason'>;
  lastSnapshotTs: Gauge<'symbol'>;
  positionAmt: Gauge<'symbol'>;
  ledgerAmt: Gauge<'symbol'>;
  snapshotAgeSec: Gauge<'symbol'>;
  /**
   * Runs before `p33_ledger_amt` and `p33_snapshot_age_sec` are collected: the brain's
   * StateGauges reads Redis there (state-gauges.ts). Never rejects; null = nothing to do.
   */
  beforeStateCollect: { hook: (() => Promise<void>) | null };
  evaluationDuration: Histogram;
  planBatchDuration: Histogram;
  planLag: Histogram;
  badInputTotal: Counter<'stream'>;
  offStepQtyTotal: Counter<'symbol'>;
  fillAlreadyRepairedTotal: Counter<'symbol'>;
  exchangeErrorsTotal: Counter<'endpoint' | 'code'>;
  exchangeRateLimitedTotal: Counter;
  exchangeUsedWeight1m: Gauge;
  pollDuration: Histogram;
  pollTotal: Counter<'outcome'>;
  loopErrorsTotal: Counter<'component'>;
  userStreamUp: Gauge;
  userStreamSilentTotal: Counter;
  permitReplicationShortfallTotal: Counter;
}

export function createBrainMetrics(options: { defaultMetrics?: boolean } = {}): BrainMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const beforeStateCollect: BrainMetrics['beforeStateCollect'] = { hook: null };
  // Both gauges ask; the hook shares one read between them (and between close scrapes).
  const collect = (): Promise<void> | undefined => beforeStateCollect.hook?.();
  return {
    registry,
    beforeStateCollect,
    snapshotTotal: new Counter({
      name: 'p33_snapshot_total',
      help: 'Exchange snapshot outcomes per symbol (ok, unknown_symbol, hedge_mode, invalid)',
      labelNames: ['symbol', 'status'],
      registers,
    }),
    ledgerUpdateTotal: new Counter({
      name: 'p33_ledger_update_total',
      help: 'Ledger updates applied from apply.result',
      labelNames: ['symbol'],
      registers,
    }),
    permitTotal: new Counter({
      name: 'p33_permit_total',
      help: 'P3.3 permits issued (decision=allow|deny)',
      labelNames: ['symbol', 'decision'],
      registers,
    }),
    permitDenyTotal: new Counter({
      name: 'p33_permit_deny_total',
      help: 'Denied permits by first failing reason',
      labelNames: ['symbol', 'reason'],
      registers,
    }),
    lastSnapshotTs: new Gauge({
      name: 'p33_last_snapshot_ts',
      help: 'Time of the last snapshot written (unix seconds)',
      labelNames: ['symbol'],
      registers,
    }),
    positionAmt: new Gauge({
      name: 'p33_position_amt',
      help: 'Exchange position amount of the last snapshot (signed)',
      labelNames: ['symbol'],
      registers,
    }),
    ledgerAmt: new Gauge({
      name: 'p33_ledger_amt',
      help: 'Ledger amount in Redis, whoever wrote it (signed; read at each scrape; absent while there is no valid ledger)',
      labelNames: ['symbol'],
      registers,
      collect,
    }),
    snapshotAgeSec: new Gauge({
      name: 'p33_snapshot_age_sec',
      help: 'Age of the snapshot in Redis, whoever wrote it (seconds, at the scrape; +Inf while there is none usable)',
      labelNames: ['symbol'],
      registers,
      collect,
    }),
    evaluationDuration: new Histogram({
      name: 'p33_evaluation_duration_seconds',
      help: 'Time to evaluate one plan: the six sanity checks and the safe close quantity, on state already read',
      buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1],
      registers,
    }),
    planBatchDuration: new Histogram({
      name: 'p33_plan_batch_duration_seconds',
      help: 'Time to answer one batch of plans read together: the state read, every evaluation, the permit writes',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    planLag: new Histogram({
      name: 'p33_plan_lag_seconds',
      help: 'Plan added to apply.plan (stream id time) to permit written',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    }),
    badInputTotal: new Counter({
      name: 'p33_bad_input_total',
      help: 'Malformed stream entries acknowledged and skipped',
      labelNames: ['stream'],
      registers,
    }),
    offStepQtyTotal: new Counter({
      name: 'p33_off_step_qty_total',
      help: 'Fill quantities off the lot step by more than float noise, applied exactly as sent',
      labelNames: ['symbol'],
      registers,
    }),
    fillAlreadyRepairedTotal: new Counter({
      name: 'p33_fill_already_repaired_total',
      help: 'Confirmed fills not applied: the reconcile engine had repaired the ledger from the same order while its fill was unconfirmed',
      labelNames: ['symbol'],
      registers,
    }),
    exchangeErrorsTotal: new Counter({
      name: 'p33_exchange_errors_total',
      help: 'Failed exchange calls by endpoint and code',
      labelNames: ['endpoint', 'code'],
      registers,
    }),
    exchangeRateLimitedTotal: new Counter({
      name: 'p33_exchange_rate_limited_total',
      help: '429/418 answers received, and polls skipped while the Retry-After pause lasts',
      registers,
    }),
    exchangeUsedWeight1m: new Gauge({
      name: 'p33_exchange_used_weight_1m',
      help: 'Last X-MBX-USED-WEIGHT-1M seen',
      registers,
    }),
    pollDuration: new Histogram({
      name: 'p33_poll_duration_seconds',
      help: 'positionRisk poll duration including the Redis write',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    }),
    pollTotal: new Counter({
      name: 'p33_poll_total',
      help: 'Snapshot polls by outcome (ok, failed, skipped_rate_limited)',
      labelNames: ['outcome'],
      registers,
    }),
    loopErrorsTotal: new Counter({
      name: 'p33_loop_errors_total',
      help: 'Failed loop iterations by component (the loop goes on)',
      labelNames: ['component'],
      registers,
    }),
    userStreamUp: new Gauge({
      name: 'p33_user_stream_up',
      help: 'User-data stream: 1 connected and pushing, 0 down, declared silent, or P33_USER_STREAM=false',
      registers,
    }),
    userStreamSilentTotal: new Counter({
      name: 'p33_user_stream_silent_total',
      help: 'Times the user-data stream was declared silent: connected, but a position change REST showed was not pushed within 2 s',
      registers,
    }),
    permitReplicationShortfallTotal: new Counter({
      name: 'p33_permit_replication_shortfall_total',
      help: 'Answered plans left unacknowledged because WAIT saw fewer than REDIS_MIN_REPLICAS_ACK replicas within REDIS_REPLICA_WAIT_MS (each is retried; counted per attempt)',
      registers,
    }),
  };
}

/** Counts exchange errors, 429/418 answers and the used weight from the client's request events. */
export function exchangeObserver(metrics: BrainMetrics): (event: ExchangeRequestEvent) => void {
  return (event) => {
    if (event.weight !== null) metrics.exchangeUsedWeight1m.set(event.weight);
    if (event.status === 429 || event.status === 418) metrics.exchangeRateLimitedTotal.inc();
    const failed = event.error !== undefined || (event.status !== null && event.status >= 400);
    if (failed)
      metrics.exchangeErrorsTotal.inc({
        endpoint: event.endpoint,
        code: event.error ?? String(event.status),
      });
  };
}
