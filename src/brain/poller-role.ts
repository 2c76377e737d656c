/**
 * The brain's leader role `brain-poller` (SPEC §11): snapshot poller + user-data stream +
 * lot sizes run on the one instance that holds the lease; every brain evaluates plans and
 * applies fills. Election starts the role's components, losing it stops them; transitions
 * run one after the other (a stop finishes its in-flight poll before a new start), so two
 * terms of this instance never poll at once. Every write of the role is fenced anyway.
 */
import type { LostReason } from '../redis/ha/lease-keeper.js';

export interface RoleComponent {
  start(): void;
  stop(): Promise<void>;
}

export class PollerRole {
  private chain: Promise<void> = Promise.resolve();
  private running: RoleComponent[] | null = null;
  private leading = false;

  /** `build` makes the role's components for one term (fresh ones: a user-data stream is not restartable). */
  constructor(
    private readonly build: () => RoleComponent[],
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Whether this instance leads the role now (set at once; the components follow). */
  isLeading(): boolean {
    return this.leading;
  }

  elected(): void {
    this.leading = true;
    this.enqueue(() => {
      if (!this.leading || this.running !== null) return Promise.resolve();
      const components = this.build();
      this.running = components;
      for (const c of components) c.start();
      return Promise.resolve();
    });
  }

  lost(_reason?: LostReason): void {
    this.leading = false;
    this.enqueue(() => this.stopRunning());
  }

  /** Stops the role's components (service stop); resolves when they have stopped. */
  async stop(): Promise<void> {
    this.leading = false;
    this.enqueue(() => this.stopRunning());
    await this.chain;
  }

  /** Resolves when every transition asked for so far has run. */
  settled(): Promise<void> {
    return this.chain;
  }

  private async stopRunning(): Promise<void> {
    const components = this.running;
    this.running = null;
    if (components !== null) await Promise.all(components.map((c) => c.stop()));
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((error: unknown) => this.onError(error));
  }
}
