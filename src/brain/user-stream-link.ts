/**
 * The optional user-data stream in the brain (SPEC §3, `P33_USER_STREAM=true`):
 * ACCOUNT_UPDATE rows write snapshots at once, every (re)connect reseeds from REST, and
 * the watchdog cross-checks the stream with REST. A stream that is connected but did not
 * push a position change REST showed (within 2 s) is declared silent: one log line,
 * `p33_user_stream_up` 0, `p33_user_stream_silent_total` +1, a reconnect. REST polling is
 * the source meanwhile (it always runs); the gauge is 1 again once the stream pushes.
 */
import { formatAmount } from '../domain/amount.js';
import type { Clock } from '../domain/time.js';
import { errorMessage } from '../errors.js';
import { type SilenceFinding, UserStreamWatchdog } from '../exchange/stream-watchdog.js';
import type { AccountUpdate, UserDataStream } from '../exchange/user-data-stream.js';
import type { Logger } from '../observability/logger.js';
import { type Scheduler, type Timer, systemScheduler } from '../runtime/clock.js';
import type { BrainMetrics } from './metrics.js';
import type { RestChange, SnapshotPoller } from './snapshot-poller.js';

export interface UserStreamLinkOptions {
  stream: UserDataStream;
  poller: SnapshotPoller;
  metrics: BrainMetrics;
  logger: Logger;
  clock: Clock;
  /** Timer of the watchdog's next deadline (default: the system's). */
  scheduler?: Scheduler;
  /** The stream's base, named in the silence log line. */
  wsUrl: string;
  /** How long the stream has to push a change REST showed (default 2 s). */
  graceMs?: number;
}

export class UserStreamLink {
  private readonly watchdog: UserStreamWatchdog;
  private timer: Timer | null = null;
  private timerAtMs: number | null = null;
  private stopped = false;

  constructor(private readonly o: UserStreamLinkOptions) {
    this.watchdog = new UserStreamWatchdog(o.graceMs);
  }

  start(): void {
    const { stream, poller, logger } = this.o;
    this.gauge();
    stream.on('connected', () => {
      this.watchdog.connected(this.now());
      this.gauge();
      poller.trigger();
    });
    stream.on('disconnected', () => {
      this.watchdog.disconnected();
      this.gauge();
    });
    stream.on('order_update', () => this.heard());
    stream.on('account_update', (update) => {
      this.observe(update);
      poller.applyAccountUpdate(update).catch((error: unknown) => {
        logger.warn(
          { err: errorMessage(error) },
          'user-data snapshot write failed; REST polling continues',
        );
      });
    });
    stream.start();
  }

  /** The poller's REST snapshots whose amount changed (SnapshotPollerOptions.onRestChanges). */
  restChanges(changes: readonly RestChange[]): void {
    if (this.stopped) return;
    const now = this.now();
    for (const change of changes) this.watchdog.restChanged(change, now);
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    await this.o.stream.stop();
  }

  private observe(update: AccountUpdate): void {
    const now = this.now();
    const exchangeUpdateMs = update.transactionTimeMs ?? update.eventTimeMs;
    for (const p of update.positions) {
      if (p.positionSide !== 'BOTH') continue;
      this.watchdog.pushed(
        { symbol: p.symbol, amount: formatAmount(p.positionAmt), exchangeUpdateMs },
        now,
      );
    }
    this.heard();
  }

  private heard(): void {
    if (this.watchdog.heard()) {
      this.o.logger.info('user-data stream pushes again: it is a source again');
    }
    this.gauge();
  }

  /** One timer, at the earliest deadline. */
  private schedule(): void {
    const deadline = this.watchdog.nextDeadlineMs();
    if (deadline === null || this.stopped) return;
    if (this.timer && this.timerAtMs !== null && this.timerAtMs <= deadline) return;
    this.timer?.cancel();
    this.timerAtMs = deadline;
    const scheduler = this.o.scheduler ?? systemScheduler;
    this.timer = scheduler.after(deadline - this.now(), () => this.check());
  }

  private check(): void {
    this.timer = null;
    this.timerAtMs = null;
    const finding = this.watchdog.check(this.now());
    if (finding) this.silent(finding);
    this.schedule();
  }

  private silent(finding: SilenceFinding): void {
    if (finding.declared) {
      this.o.metrics.userStreamSilentTotal.inc();
      this.o.logger.error(
        { symbols: finding.symbols.slice(0, 20), ws_url: this.o.wsUrl },
        'user-data stream connected but silent: REST showed position changes it never pushed within 2 s; ' +
          'reconnecting, REST polling is the source meanwhile. If this repeats, BINANCE_WS_URL is ' +
          'probably not the private base (e.g. wss://fstream.binance.com/private)',
      );
    }
    this.gauge();
    this.o.stream.reconnectNow();
  }

  private gauge(): void {
    this.o.metrics.userStreamUp.set(this.watchdog.health() === 'up' ? 1 : 0);
  }

  private now(): number {
    return this.o.clock.nowMs();
  }
}
