/**
 * "Log once per outage, not per tick": the first failure of a run of failures is logged
 * with its error, the recovery with how long it lasted and how many attempts failed.
 * Every failure is still counted by the caller.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';

export class OutageLog {
  private sinceMs: number | null = null;
  private failures = 0;

  constructor(
    private readonly logger: Logger,
    private readonly what: string,
    private readonly now: () => number,
  ) {}

  get failing(): boolean {
    return this.sinceMs !== null;
  }

  failed(error: unknown, context: Record<string, unknown> = {}): void {
    this.failures += 1;
    if (this.sinceMs !== null) return;
    this.sinceMs = this.now();
    this.logger.error({ ...context, err: errorMessage(error) }, `${this.what} failing`);
  }

  ok(context: Record<string, unknown> = {}): void {
    if (this.sinceMs === null) return;
    this.logger.info(
      { ...context, down_ms: this.now() - this.sinceMs, failures: this.failures },
      `${this.what} recovered`,
    );
    this.sinceMs = null;
    this.failures = 0;
  }
}
