/**
 * Feeds the in-memory evidence window from `P:stream:apply.result` (SPEC §7): rebuilt
 * from the stream at start (XRANGE from `now − window`), then read incrementally from the
 * last seen id on the cycle's read pipeline. Entries go through the one shared result
 * parser (SPEC §4): fills and orders whose fill is not confirmed enter the window; not
 * executed entries are skipped; malformed ones are reported, never thrown.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import { fieldsToRecord, parseApplyResult } from '../domain/apply-result.js';
import type { EvidenceItem, EvidenceWindow } from '../domain/evidence.js';
import { isStreamId } from '../domain/identifiers.js';
import type { Keys } from '../redis/keys.js';

/** Entries per XRANGE page; a backlog takes extra round trips, symbols never do. */
export const EVIDENCE_PAGE = 1000;

export interface IngestResult {
  /** Fills and unconfirmed orders added to the window. */
  fills: EvidenceItem[];
  /** The page was full: more entries may be waiting. */
  full: boolean;
}

export class EvidenceFeed {
  private lastId: string | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    readonly window: EvidenceWindow,
    private readonly windowMs: number,
    private readonly onBad: (entryId: string, problem: string) => void,
  ) {}

  get started(): boolean {
    return this.lastId !== null;
  }

  /** Forgets the window and the last seen id: the next cycle rebuilds from the stream. */
  reset(): void {
    this.lastId = null;
    this.window.clear();
  }

  /** Reads the last `window` of the stream into the window. Returns the results added. */
  async rebuild(nowMs: number): Promise<EvidenceItem[]> {
    const start = `${Math.max(0, Math.floor(nowMs - this.windowMs))}-0`;
    const reply = await this.redis.xrange(
      this.keys.applyResultStream,
      start,
      '+',
      'COUNT',
      EVIDENCE_PAGE,
    );
    // Only a successful read marks the feed as started (a failed start is retried next cycle).
    const first = this.ingest(reply);
    this.lastId ??= start;
    const rest = first.full ? await this.drain() : [];
    return [...first.fills, ...rest];
  }

  /**
   * Queues the incremental read on the cycle's read pipeline; `onReply` gets the reply as
   * soon as it arrives (it is the pipeline's first command).
   */
  queuePoll(
    pipeline: ChainableCommander,
    onReply: (error: Error | null, reply: unknown) => void,
  ): void {
    pipeline.xrange(
      this.keys.applyResultStream,
      this.exclusiveStart(),
      '+',
      'COUNT',
      EVIDENCE_PAGE,
      (error, reply) => onReply(error ?? null, reply),
    );
  }

  /** Reads further pages while they come back full. */
  async drain(): Promise<EvidenceItem[]> {
    const fills: EvidenceItem[] = [];
    for (;;) {
      const reply = await this.redis.xrange(
        this.keys.applyResultStream,
        this.exclusiveStart(),
        '+',
        'COUNT',
        EVIDENCE_PAGE,
      );
      const page = this.ingest(reply);
      fills.push(...page.fills);
      if (!page.full) return fills;
    }
  }

  /** Parses one XRANGE reply, adds its evidence to the window and advances the last seen id. */
  ingest(reply: unknown): IngestResult {
    const entries = Array.isArray(reply) ? (reply as unknown[]) : [];
    const fills: EvidenceItem[] = [];
    for (const entry of entries) {
      if (!Array.isArray(entry) || entry.length !== 2) continue;
      const [id, flat] = entry as [unknown, unknown];
      if (typeof id !== 'string' || !isStreamId(id)) continue;
      this.lastId = id;
      const fields = Array.isArray(flat) ? fieldsToRecord(flat.map(String)) : {};
      const parsed = parseApplyResult(id, fields);
      if (parsed.kind === 'malformed') this.onBad(id, parsed.problem);
      const item =
        parsed.kind === 'fill'
          ? parsed.fill
          : parsed.kind === 'unconfirmed_order'
            ? parsed.order
            : null;
      if (item !== null && this.window.add(item)) fills.push(item);
    }
    return { fills, full: entries.length >= EVIDENCE_PAGE };
  }

  private exclusiveStart(): string {
    return this.lastId === null ? '-' : `(${this.lastId}`;
  }
}
