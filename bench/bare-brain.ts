/**
 * The floor for plan → permit: the same Redis work as the plan evaluator, without its
 * logic. A consumer group with a blocking XREADGROUP on apply.plan; per batch one
 * pipeline of the reads the rules need (heartbeat EXISTS; per symbol snapshot, ledger and
 * lot-size HGETALL and hold EXISTS) and one pipeline of the real `brain_issue_permit.lua`
 * per plan with a fixed permit body. No parsing, no rules, no decimals, no metrics, no logs.
 */
import type { Redis } from 'ioredis';
import { brainIssuePermit } from '../src/redis/scripts/brain-issue-permit.js';
import { queueScript, scriptPipeline } from '../src/redis/scripts/script.js';
import type { Keys } from '../src/redis/keys.js';

const GROUP = 'bench-bare';

export class BareBrain {
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly reader: Redis,
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async start(): Promise<void> {
    try {
      await this.reader.xgroup('CREATE', this.keys.applyPlanStream, GROUP, '$', 'MKSTREAM');
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
    }
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const reply = (await this.reader.xreadgroup(
        'GROUP',
        GROUP,
        'bare',
        'COUNT',
        256,
        'BLOCK',
        200,
        'STREAMS',
        this.keys.applyPlanStream,
        '>',
      )) as [string, [string, string[]][]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length > 0) await this.answer(entries);
    }
  }

  private async answer(entries: [string, string[]][]): Promise<void> {
    const plans = entries.map(([id, flat]) => ({ id, ...pick(flat) }));
    const reads = this.redis.pipeline();
    reads.exists(this.keys.reconcileHeartbeat);
    for (const symbol of new Set(plans.map((p) => p.symbol))) {
      reads.hgetall(this.keys.snapshot(symbol));
      reads.hgetall(this.keys.ledger(symbol));
      reads.exists(this.keys.hold(symbol));
      reads.hgetall(this.keys.symbolLotSize(symbol));
    }
    await reads.exec();
    const writes = scriptPipeline(this.redis, [brainIssuePermit]);
    for (const plan of plans) {
      const permitJson = `{"plan_id":"${plan.planId}","symbol":"${plan.symbol}","allow":true,"safe_close_qty":0.001,"ts_epoch":${Math.floor(Date.now() / 1000)}}`;
      const args = {
        keys: this.keys,
        planId: plan.planId,
        entryId: plan.id,
        permitJson,
        outcome: 'allow',
        group: GROUP,
        permitTtlMs: 60_000,
        planSeenTtlMs: 600_000,
      };
      queueScript(writes, brainIssuePermit, args, () => undefined);
    }
    await writes.exec();
  }
}

function pick(flat: string[]): { planId: string; symbol: string } {
  let planId = '';
  let symbol = '';
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (flat[i] === 'plan_id') planId = flat[i + 1]!;
    else if (flat[i] === 'symbol') symbol = flat[i + 1]!;
  }
  return { planId, symbol };
}
