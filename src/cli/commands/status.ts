/**
 * `posguard status [SYM…]` — one table for the allowlist: exchange amount, ledger amount,
 * diff, the engine's status and reason, hold (owner, TTL), snapshot age. Everything is
 * read by the shared symbol-state reader: one round trip, the codecs the services use.
 * Then, when several instances left records (SPEC §11): the instances, and each role's
 * leader, epoch, fence and lease, from the one HA reader (src/redis/ha/instances-reader.ts).
 * A deployment with no presence record and no lease key shows nothing more.
 */
import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import { type Amount, formatAmount } from '../../domain/amount.js';
import type { HaState } from '../../domain/ha-state.js';
import { readHaState } from '../../redis/ha/instances-reader.js';
import type { Keys } from '../../redis/keys.js';
import type { SymbolState } from '../../redis/symbol-state.js';
import { readSymbolStates } from '../../redis/symbol-state-reader.js';
import { configFrom, withEnvFile } from '../config-option.js';
import { symbolArg, systemClock } from '../arguments.js';
import { type Colour, painterFor } from '../output/colour.js';
import { print, printJson } from '../output/json.js';
import { renderHaState } from '../output/instances-view.js';
import { renderTable } from '../output/table.js';
import { withSession } from '../redis-session.js';

export interface StatusRow {
  symbol: string;
  exchange_amt: string | null;
  /** ok | missing | invalid | wrong_type */
  exchange_state: string;
  ledger_amt: string | null;
  ledger_state: string;
  diff_amt: string | null;
  status: string | null;
  reason: string | null;
  hold: boolean;
  hold_owner: string | null;
  hold_ttl_sec: number | null;
  snapshot_age_sec: number | null;
  since_ts: string | null;
}

function statusRow(s: SymbolState, nowMs: number): StatusRow {
  const { snapshot: snap, ledger, hold } = s;
  const exchange: Amount | null = snap.kind === 'ok' ? snap.snapshot.amount : null;
  const ledgerAmt: Amount | null = ledger.kind === 'ok' ? ledger.ledger.amount : null;
  const state = s.state.kind === 'ok' ? s.state.state : null;
  return {
    symbol: s.symbol,
    exchange_amt: exchange === null ? null : formatAmount(exchange),
    exchange_state: s.wrongType.includes('snapshot') ? 'wrong_type' : snap.kind,
    ledger_amt: ledgerAmt === null ? null : formatAmount(ledgerAmt),
    ledger_state: s.wrongType.includes('ledger') ? 'wrong_type' : ledger.kind,
    diff_amt:
      exchange !== null && ledgerAmt !== null ? formatAmount(exchange.minus(ledgerAmt)) : null,
    status: state?.status ?? state?.unknownStatus ?? null,
    reason: state?.reason ?? null,
    hold: hold.present,
    hold_owner: hold.owner,
    hold_ttl_sec: hold.ttlMs === null ? null : hold.ttlMs / 1000,
    snapshot_age_sec: snap.kind === 'ok' ? Math.round(nowMs - snap.snapshot.takenMs) / 1000 : null,
    since_ts: state?.sinceMs ? String(Math.floor(state.sinceMs / 1000)) : null,
  };
}

export async function readStatus(
  redis: Redis,
  keys: Keys,
  symbols: readonly string[],
  nowMs: number,
): Promise<StatusRow[]> {
  const states = await readSymbolStates(redis, keys, symbols);
  return states.map((state) => statusRow(state, nowMs));
}

const STATUS_COLOURS: Record<string, Colour> = {
  OK: 'green',
  REPAIRED: 'cyan',
  DRIFT: 'yellow',
  HOLD: 'red',
  MANUAL_REQUIRED: 'red',
};

function amountCell(amount: string | null, state: string): string {
  return amount ?? (state === 'missing' ? '-' : state);
}

export function renderStatus(
  rows: readonly StatusRow[],
  stream: { isTTY?: boolean } = process.stdout,
): string {
  const painter = painterFor(stream);
  return renderTable(
    [
      { header: 'SYMBOL' },
      { header: 'EXCHANGE', align: 'right' },
      { header: 'LEDGER', align: 'right' },
      { header: 'DIFF', align: 'right' },
      { header: 'STATUS' },
      { header: 'REASON' },
      { header: 'HOLD' },
      { header: 'HOLD_TTL', align: 'right' },
      { header: 'SNAP_AGE', align: 'right' },
    ],
    rows.map((row) => {
      const status = row.status ?? '-';
      const colour = STATUS_COLOURS[status];
      return [
        row.symbol,
        amountCell(row.exchange_amt, row.exchange_state),
        amountCell(row.ledger_amt, row.ledger_state),
        row.diff_amt ?? '-',
        colour ? painter.paint(status, colour) : status,
        row.reason ?? '-',
        row.hold ? `yes (${row.hold_owner ?? '?'})` : 'no',
        row.hold_ttl_sec === null ? '-' : `${row.hold_ttl_sec.toFixed(0)}s`,
        row.snapshot_age_sec === null ? '-' : `${row.snapshot_age_sec.toFixed(1)}s`,
      ];
    }),
  );
}

/** The symbol rows, and the instances section (null when there is none). */
export interface StatusReport {
  symbols: StatusRow[];
  ha: HaState | null;
}

async function status(
  symbols: string[],
  options: { envFile?: string; json?: boolean },
): Promise<void> {
  const config = configFrom(options);
  const list =
    symbols.length > 0
      ? symbols
      : [...new Set([...config.reconcile.allowlist, ...config.brain.allowlist])].sort();
  const nowMs = systemClock.nowMs();
  const report = await withSession(config, async ({ redis, keys }): Promise<StatusReport> => ({
    symbols: await readStatus(redis, keys, list, nowMs),
    ha: await readHaState(redis, keys, { leaseMs: config.ha.leaseMs, nowMs }),
  }));
  // --json keeps the shape scripts already parse (the rows); `posguard instances --json`
  // prints the HA part.
  if (options.json === true) printJson(report.symbols);
  else
    print(
      renderStatus(report.symbols) + (report.ha === null ? '' : renderHaState(report.ha, nowMs)),
    );
}

export function registerStatus(program: Command): void {
  withEnvFile(
    program
      .command('status')
      .summary('exchange vs ledger, status, holds and snapshot age for every symbol')
      .description(
        'one table for the allowlist (P34_ALLOWLIST ∪ P33_ALLOWLIST) or the given symbols: exchange and\n' +
          "ledger amounts, diff, the engine's status and reason, hold owner and TTL, snapshot age;\n" +
          "then, when instance records or leases exist (SPEC §11), the instances and each role's\n" +
          'leader, epoch, fence and lease age',
      )
      .argument(
        '[symbols...]',
        'symbols to show (default: both allowlists)',
        (value: string, previous: string[] = []) => [...previous, symbolArg(value)],
      )
      .option(
        '--json',
        'print the symbol rows as JSON (amounts as decimal strings); the instances: posguard instances --json',
      )
      .addHelpText(
        'after',
        '\nExamples:\n  posguard status\n  posguard status BTCUSDT ETHUSDT --json',
      ),
  ).action((symbols: string[] | undefined, options: { envFile?: string; json?: boolean }) =>
    status(symbols ?? [], options),
  );
}
