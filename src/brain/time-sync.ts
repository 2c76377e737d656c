/**
 * Clock sync with the exchange (`/fapi/v1/time`) at start. A failure is logged and
 * retried; the service runs meanwhile (signed calls may fail, snapshots age, permits
 * deny). The client itself resyncs on -1021.
 */
import type { Clock } from '../domain/time.js';
import type { FuturesRestClient } from '../exchange/types.js';
import type { Logger } from '../observability/logger.js';
import { type Scheduler, type Timer, systemScheduler } from '../runtime/clock.js';
import { OutageLog } from './outage-log.js';

const RETRY_MS = 10_000;

export class TimeSync {
  private timer: Timer | null = null;
  private attempt: Promise<void> | null = null;
  private synced = false;
  private stopped = false;
  private readonly outage: OutageLog;

  constructor(
    private readonly options: {
      client: FuturesRestClient;
      logger: Logger;
      clock: Clock;
      /** Timer of the retry (default: the system's). */
      scheduler?: Scheduler;
      retryMs?: number;
    },
  ) {
    this.outage = new OutageLog(options.logger, 'exchange time sync', () => options.clock.nowMs());
  }

  get isSynced(): boolean {
    return this.synced;
  }

  start(): void {
    this.stopped = false;
    this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.attempt;
  }

  private run(): void {
    this.attempt = this.options.client.syncTime().then(
      () => {
        this.synced = true;
        this.outage.ok();
      },
      (error: unknown) => {
        this.outage.failed(error, { retry_ms: this.options.retryMs ?? RETRY_MS });
        if (!this.stopped) {
          const scheduler = this.options.scheduler ?? systemScheduler;
          this.timer = scheduler.after(this.options.retryMs ?? RETRY_MS, () => this.run());
        }
      },
    );
  }
}
