/**
 * `posguard holds` — every hold key under the prefix (SCAN, never KEYS), with its TTL
 * and owner (src/domain/hold-owner.ts): p34 (the engine's: its marker records the hold's
 * exact expiry), shared (an operator's hold the engine also needs), or operator (no engine
 * marker, or an expiry someone else set — e.g. `redis-cli SETEX … 3600 1` on top).
 */
import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import { isSymbol } from '../../domain/identifiers.js';
import type { Keys } from '../../redis/keys.js';
import { type HoldTtl, holdTtlFrom, symbolStateProjection } from '../../redis/symbol-state.js';
import { readSymbolStatesWith } from '../../redis/symbol-state-reader.js';
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

/** The hold and its owner: PTTL, PEXPIRETIME and the owner marker (Redis < 7: never p34). */
const HOLD = symbolStateProjection(['hold']);

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

/**
 * Every hold key found, read in one round trip: a key that names a symbol through the shared
 * reader (owner and TTL), any other (`…:hold:btc-usdt`, written by hand) by its PTTL alone.
 */
export async function readHolds(redis: Redis, keys: Keys): Promise<HoldRow[]> {
  const base = holdKeyBase(keys);
  const found = (await scanHoldKeys(redis, keys)).map((key) => {
    const suffix = key.slice(base.length);
    return { key, symbol: isSymbol(suffix) ? suffix : null };
  });
  const symbols = found.flatMap(({ symbol }) => (symbol === null ? [] : [symbol]));
  const others = found.filter(({ symbol }) => symbol === null);
  const read = await readSymbolStatesWith(
    redis,
    keys,
    symbols,
    HOLD,
    others.map(({ key }) => ['pttl', key] as const),
  );
  const holds = new Map<string, { owner: string; hold: HoldTtl }>();
  for (const { symbol, hold } of read.states)
    holds.set(keys.hold(symbol), { owner: hold.owner ?? 'operator', hold });
  others.forEach(({ key }, i) => {
    const [error, pttl] = read.extra[i] ?? [null, -2];
    const hold = holdTtlFrom(error === null && typeof pttl === 'number' ? pttl : -2);
    holds.set(key, { owner: 'unknown', hold });
  });
  const rows: HoldRow[] = [];
  for (const { key, symbol } of found) {
    const seen = holds.get(key);
    if (seen === undefined || !seen.hold.present) continue; // expired between SCAN and read
    rows.push({
      key,
      symbol,
      owner: seen.owner,
      ttl_sec: seen.hold.ttlMs === null ? null : seen.hold.ttlMs / 1000,
    });
  }
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
