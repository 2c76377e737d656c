/**
 * Runs cycles for the loop: a failed cycle is counted and skipped, and logged once per
 * outage ("redis unavailable, cycle skipped" … "redis back"), never once per tick. Every
 * cycle's duration is observed, a failed one's too (the timer ends in `finally`).
 */
import type { Redis } from 'ioredis';
import { PosguardError, errorMessage } from '../errors.js';
import type { Clock } from '../domain/time.js';
import type { Logger } from '../observability/logger.js';
import type { ReconcileEngine } from './engine.js';
import type { ReconcileMetrics } from './metrics.js';

type FailureKind = 'redis' | 'cycle';

export class CycleRunner {
  private failing: FailureKind | null = null;
  private lastSuccessMs: number | null = null;

  constructor(
    private readonly engine: Pick<ReconcileEngine, 'runOnce'>,
    private readonly redis: Redis,
    private readonly clock: Clock,
    private readonly metrics: ReconcileMetrics,
    private readonly logger: Logger,
  ) {}

  /** Runs one cycle; never throws. Returns whether it succeeded. Every cycle is timed. */
  async tick(): Promise<boolean> {
    const endTimer = this.metrics.cycleDuration.startTimer();
    try {
      const report = await this.engine.runOnce();
      this.metrics.lastCycleTs.set(report.nowMs / 1000);
      this.lastSuccessMs = report.nowMs;
      this.recovered();
      return true;
    } catch (error) {
      // The term ended under the cycle (fenced, or the lease lapsed before it wrote):
      // nothing was written and the lease keeper has said so — not an engine failure.
      if (termEnded(error)) {
        this.logger.debug({ error: errorMessage(error) }, 'cycle ended with the term');
        return false;
      }
      this.metrics.cycleFailuresTotal.inc();
      this.failed(error);
      return false;
    } finally {
      endTimer();
    }
  }

  /** Whether a cycle succeeded within `withinMs` and Redis is connected (for /readyz). */
  healthy(withinMs: number): { redis: boolean; recentCycle: boolean } {
    const last = this.lastSuccessMs;
    return {
      redis: this.redis.status === 'ready',
      recentCycle: last !== null && this.clock.nowMs() - last <= withinMs,
    };
  }

  private failed(error: unknown): void {
    const kind: FailureKind = this.redis.status === 'ready' ? 'cycle' : 'redis';
    if (this.failing === kind) return;
    this.failing = kind;
    if (kind === 'redis')
      this.logger.warn({ error: errorMessage(error) }, 'redis unavailable, cycle skipped');
    else this.logger.error({ error: errorMessage(error) }, 'reconcile cycle failed, skipped');
  }

  private recovered(): void {
    if (this.failing === null) return;
    this.logger.info(this.failing === 'redis' ? 'redis back' : 'reconcile cycle recovered');
    this.failing = null;
  }
}

function termEnded(error: unknown): boolean {
  return error instanceof PosguardError && (error.code === 'FENCED' || error.code === 'NOT_LEADER');
}
