/**
 * `posguard events` — the audit trail (`P:stream:reconcile.events`): the engine's
 * LEDGER_INIT, AUTO_REPAIR, HOLD_SET, HOLD_CLEARED, MANUAL_REQUIRED and the CLI's
 * MANUAL_*. Recent events oldest first; `--follow` blocks on XREAD until Ctrl-C.
 */
import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import { configFrom, withEnvFile } from '../config-option.js';
import { intArg, symbolArg } from '../arguments.js';
import { painterFor } from '../output/colour.js';
import { print, printJson, printJsonLine } from '../output/json.js';
import { openRedis, closeRedis, keysFor } from '../redis-session.js';
import {
  type EventRecord,
  recentEvents,
  toEventRecord as toRecord,
} from '../../redis/event-stream.js';

interface EventsOptions {
  envFile?: string;
  symbol?: string;
  count: number;
  follow?: boolean;
  json?: boolean;
}

const FOLLOW_BLOCK_MS = 5000;

function matches(record: EventRecord, symbol: string | undefined): boolean {
  return symbol === undefined || record.fields.symbol === symbol;
}

const DETAIL_ORDER = ['reason', 'operator', 'old_ledger_amt', 'new_ledger_amt'];
const SKIP = new Set(['event', 'symbol', 'ts', 'ts_ms']);

export function formatEvent(
  record: EventRecord,
  stream: { isTTY?: boolean } = process.stdout,
): string {
  const f = record.fields;
  const painter = painterFor(stream);
  const ms = Number(f.ts_ms ?? record.id.split('-')[0]);
  const when = Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : '?';
  const names = [
    ...DETAIL_ORDER.filter((n) => n in f),
    ...Object.keys(f).filter((n) => !SKIP.has(n) && !DETAIL_ORDER.includes(n)),
  ];
  const details = names.map((n) => `${n}=${JSON.stringify(f[n] ?? '')}`).join(' ');
  const event = (f.event ?? '?').padEnd(20);
  return `${painter.paint(when, 'dim')}  ${painter.paint(event, 'bold')} ${(f.symbol ?? '-').padEnd(12)} ${details}  ${painter.paint(record.id, 'dim')}`;
}

function emit(record: EventRecord, json: boolean): void {
  if (json) printJsonLine({ id: record.id, ...record.fields });
  else print(formatEvent(record));
}

/** Prints entries after `fromId` as they arrive, until SIGINT/SIGTERM. */
async function follow(
  redis: Redis,
  stream: string,
  fromId: string,
  options: EventsOptions,
): Promise<void> {
  let lastId = fromId;
  let stopping = false;
  const stop = (): void => {
    stopping = true;
    redis.disconnect();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    while (!stopping) {
      const reply = await redis
        .xread('COUNT', 100, 'BLOCK', FOLLOW_BLOCK_MS, 'STREAMS', stream, lastId)
        .catch((error: unknown) => {
          if (stopping) return null;
          throw error;
        });
      for (const [, entries] of reply ?? []) {
        for (const entry of entries) {
          const record = toRecord(entry);
          lastId = record.id;
          if (matches(record, options.symbol)) emit(record, options.json === true);
        }
      }
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

async function events(options: EventsOptions): Promise<void> {
  const config = configFrom(options);
  const keys = keysFor(config);
  const redis = await openRedis(config, 'posguard-events');
  try {
    // The newest id now: the listing ends there and --follow continues from it, with no gap.
    const [top] = await redis.xrevrange(keys.reconcileEventsStream, '+', '-', 'COUNT', 1);
    const newest = top?.[0] ?? '0-0';
    const recent =
      top === undefined
        ? []
        : await recentEvents(
            redis,
            keys.reconcileEventsStream,
            options.count,
            options.symbol,
            newest,
          );
    if (options.follow === true) {
      for (const record of recent) emit(record, options.json === true);
      await follow(redis, keys.reconcileEventsStream, newest, options);
    } else if (options.json === true) {
      printJson(recent.map((r) => ({ id: r.id, ...r.fields })));
    } else if (recent.length === 0) {
      print(
        `no events${options.symbol ? ` for ${options.symbol}` : ''} in ${keys.reconcileEventsStream}`,
      );
    } else {
      for (const record of recent) emit(record, false);
    }
  } finally {
    if (redis.status !== 'end') await closeRedis(redis);
  }
}

export function registerEvents(program: Command): void {
  withEnvFile(
    program
      .command('events')
      .description(
        'recent reconcile and operator events (oldest first); --follow prints new ones until Ctrl-C',
      )
      .option('--symbol <symbol>', 'only events of this symbol', symbolArg)
      .option('-n, --count <n>', 'how many recent events', intArg(0, 10000), 20)
      .option('-f, --follow', 'keep printing new events (XREAD BLOCK) until interrupted')
      .option('--json', 'JSON: an array, or one object per line with --follow')
      .addHelpText(
        'after',
        '\nExamples:\n  posguard events --symbol BTCUSDT -n 50\n  posguard events --follow --json',
      ),
  ).action((options: EventsOptions) => events(options));
}
