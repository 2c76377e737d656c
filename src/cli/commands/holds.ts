/**
 * `posguard holds` — every hold key under the prefix (SCAN, never KEYS), with its TTL
 * and owner (src/domain/hold-owner.ts): p34 (the engine's: its marker records the hold's
 * exact expiry), shared (an operator's hold the engine also needs), or operator (no engine
 * marker, or an expiry someone else set — e.g. `redis-cli SETEX … 3600 1` on top).
 */
import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import { decideHoldOwner } from '../../domain/hold-owner.js';
import { isSymbol } from '../../domain/identifiers.js';
import type { Keys } from '../../redis/keys.js';
import { configFrom, withEnvFile } from '../config-option.js';
import { print, printJson } from '../output/json.js';
import { renderTable } from '../output/table.js';
import { withSession } from '../redis-session.js';

export interface HoldRow {
  key: string;
  symbol: string | null;
  owner: string;
  ttl_sec: number | null;
}

type Reply = [Error | null, unknown] | undefined;

/**
 * The owner of an existing hold from the PEXPIRETIME and marker replies. A failed
 * PEXPIRETIME (Redis < 7.0) means the expiry is unknown: no hold is then provably p34.
 */
export function holdOwnerFrom(expireReply: Reply, markerReply: Reply): string {
  const expire = expireReply && !expireReply[0] ? expireReply[1] : null;
  const markerError = markerReply?.[0] ?? null;
  const marker = markerReply?.[1];
  return (
    decideHoldOwner({
      present: true,
      expireTimeMs: typeof expire === 'number' ? expire : null,
      marker: markerError ? undefined : typeof marker === 'string' ? marker : null,
    }) ?? 'operator'
  );
}

/** The hold key pattern, derived from keys.ts so no key shape is spelled out here. */
function holdKeyBase(keys: Keys): string {
  const sample = keys.hold('XX');
  return sample.slice(0, sample.length - 'XX'.length);
}

async function scanHoldKeys(redis: Redis, keys: Keys): Promise<string[]> {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${holdKeyBase(keys)}*`, 'COUNT', 500);
    for (const key of batch) found.add(key);
    cursor = next;
  } while (cursor !== '0');
  return [...found].sort();
}

export async function readHolds(redis: Redis, keys: Keys): Promise<HoldRow[]> {
  const base = holdKeyBase(keys);
  const found = (await scanHoldKeys(redis, keys)).map((key) => {
    const suffix = key.slice(base.length);
    return { key, symbol: isSymbol(suffix) ? suffix : null };
  });
  const pipeline = redis.pipeline();
  for (const { key, symbol } of found) {
    pipeline.pttl(key);
    pipeline.call('PEXPIRETIME', key);
    if (symbol === null) pipeline.echo('');
    else pipeline.get(keys.holdOwner(symbol));
  }
  const replies = (await pipeline.exec()) ?? [];
  const rows: HoldRow[] = [];
  found.forEach(({ key, symbol }, i) => {
    const [ttlError, pttl] = replies[3 * i] ?? [null, -2];
    if (ttlError || pttl === -2) return; // expired between SCAN and read
    const owner =
      symbol === null ? 'unknown' : holdOwnerFrom(replies[3 * i + 1], replies[3 * i + 2]);
    rows.push({
      key,
      symbol,
      owner,
      ttl_sec: typeof pttl === 'number' && pttl >= 0 ? pttl / 1000 : null,
    });
  });
  return rows;
}

function ttlText(ttl: number | null): string {
  return ttl === null ? 'no TTL' : `${ttl.toFixed(1)}s`;
}

async function listHolds(options: { envFile?: string; json?: boolean }): Promise<void> {
  const config = configFrom(options);
  const rows = await withSession(config, ({ redis, keys }) => readHolds(redis, keys));
  if (options.json === true) {
    printJson(rows);
    return;
  }
  if (rows.length === 0) {
    print(`no holds under prefix ${config.keys.prefix}`);
    return;
  }
  print(
    renderTable(
      [
        { header: 'SYMBOL' },
        { header: 'OWNER' },
        { header: 'TTL', align: 'right' },
        { header: 'KEY' },
      ],
      rows.map((row) => [row.symbol ?? '?', row.owner, ttlText(row.ttl_sec), row.key]),
    ),
  );
}

export function registerHolds(program: Command): void {
  withEnvFile(
    program
      .command('holds')
      .description(
        "list every hold under the key prefix with its TTL and owner (p34 = engine, shared = an operator's hold the engine also needs, operator = anyone else's)",
      )
      .option('--json', 'print the holds as JSON')
      .addHelpText('after', '\nExample:\n  posguard holds --json'),
  ).action((options: { envFile?: string; json?: boolean }) => listHolds(options));
}
