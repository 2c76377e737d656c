/**
 * `posguard ledger show|set|adopt SYM` — read and repair the ledger (SPEC §4, §10).
 * Writes go through the one ledger codec and `manual_ledger.lua` (compare-and-set on
 * `version`), bump the version, renew the TTL and write MANUAL_LEDGER_SET / _ADOPT.
 * `ledger adopt` is the supported way out of a hold caused by an external trade
 * (LESSONS #17): the ledger takes the exchange snapshot's amount.
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { Redis } from 'ioredis';
import { type Amount, formatAmount, parseAmount } from '../../domain/amount.js';
import type { Keys } from '../../redis/keys.js';
import type { Config } from '../../config/config.js';
import { configFrom, withEnvFile } from '../config-option.js';
import { symbolArg, systemClock } from '../arguments.js';
import {
  type MutationOptions,
  confirmMutation,
  operatorName,
  requiredReason,
} from '../output/confirm.js';
import { print, printJson } from '../output/json.js';
import { withSession } from '../redis-session.js';
import { adoptTarget } from '../../operator/adopt-target.js';
import {
  type LedgerState,
  type LedgerTarget,
  type ManualLedgerResult,
  ledgerAmountText,
  readLedgerState,
  writeManualLedger,
} from '../../operator/manual-ledger.js';
import { describeLedger, ledgerJson } from '../output/ledger-view.js';

interface LedgerOptions extends MutationOptions {
  envFile?: string;
  json?: boolean;
  allowStale?: boolean;
}

function amountArg(value: string): Amount {
  const amount = parseAmount(value);
  if (amount === null)
    throw new InvalidArgumentError(
      'expected a signed decimal, e.g. 0.038 or -0.5 (> 0 LONG, < 0 SHORT, 0 FLAT)',
    );
  return amount;
}

async function show(symbol: string, options: LedgerOptions): Promise<void> {
  const config = configFrom(options);
  await withSession(config, async ({ redis, keys }) => {
    const state = await readLedgerState(redis, keys, symbol);
    const ttlSec = state.ttlMs === null ? null : state.ttlMs / 1000;
    if (options.json === true) printJson(ledgerJson(symbol, keys.ledger(symbol), state, ttlSec));
    else print(describeLedger(symbol, keys.ledger(symbol), state, ttlSec, systemClock.nowMs()));
  });
}

function report(symbol: string, result: ManualLedgerResult, operator: string, json: boolean): void {
  if (json) {
    printJson({
      symbol,
      event: result.target.event,
      old_ledger_amt: result.oldAmount,
      old_ledger_state: result.oldState,
      new_ledger_amt: result.newAmount,
      old_version: result.oldVersion,
      new_version: result.newVersion,
      operator,
      ...result.target.details,
    });
    return;
  }
  const old =
    result.oldState === 'ok' ? result.oldAmount : `${result.oldAmount || '-'} (${result.oldState})`;
  print(
    `LEDGER ${symbol}: ${old} → ${result.newAmount} (version ${result.oldVersion || '-'} → ${result.newVersion}) ` +
      `by ${operator}. Event ${result.target.event} written.`,
  );
  print(
    'The reconcile engine re-evaluates the symbol within one cycle and clears its own hold when it agrees.',
  );
}

async function mutate(
  symbol: string,
  options: LedgerOptions,
  describeChange: (state: LedgerState) => string,
  target: (
    session: { redis: Redis; keys: Keys; config: Readonly<Config> },
    nowMs: number,
  ) => Promise<LedgerTarget>,
): Promise<void> {
  const config = configFrom(options);
  const reason = requiredReason(options.reason);
  const operator = operatorName(options.operator);
  await withSession(config, async (session) => {
    const { redis, keys } = session;
    const before = await readLedgerState(redis, keys, symbol);
    if (!(await confirmMutation(describeChange(before), options.yes))) {
      print('aborted: nothing changed', process.stderr);
      process.exitCode = 1;
      return;
    }
    const result = await writeManualLedger(redis, keys, {
      symbol,
      reason,
      operator,
      clock: systemClock,
      ledgerTtlSec: config.ledger.ledgerTtlSec,
      target: (_state, nowMs) => target(session, nowMs),
    });
    report(symbol, result, operator, options.json === true);
  });
}

function current(state: LedgerState): string {
  return state.read.kind === 'ok'
    ? ledgerAmountText(state)
    : `${ledgerAmountText(state) || 'none'} (${state.read.kind})`;
}

function mutationOptions(command: Command): Command {
  return withEnvFile(command)
    .requiredOption('--reason <text>', 'why (recorded in the audit event)')
    .option('--operator <name>', 'who (recorded in the audit event; default $USER)')
    .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--json', 'print the result as JSON');
}

export function registerLedger(program: Command): void {
  const ledger = program
    .command('ledger')
    .description("show or repair a symbol's internal ledger (P:position:ledger:SYM)");
  withEnvFile(
    ledger
      .command('show')
      .description(
        'the ledger decoded (amount, side, version, source, last order) and its raw fields',
      )
      .argument('<symbol>', 'symbol, e.g. BTCUSDT', symbolArg)
      .option('--json', 'print as JSON'),
  ).action((symbol: string, options: LedgerOptions) => show(symbol, options));

  mutationOptions(
    ledger
      .command('set')
      .description(
        'set the ledger amount (signed: > 0 LONG, < 0 SHORT, 0 FLAT); keeps the last-order fields',
      )
      .argument('<symbol>', 'symbol, e.g. BTCUSDT', symbolArg)
      .argument('<amount>', 'signed decimal amount, e.g. 0.038 or -0.5', amountArg)
      .addHelpText(
        'after',
        '\nExample:\n  posguard ledger set BTCUSDT -0.5 --reason "short opened by hand on the web UI" --yes',
      ),
  ).action((symbol: string, amount: Amount, options: LedgerOptions) =>
    mutate(
      symbol,
      options,
      (state) => `Set the ledger of ${symbol}: ${current(state)} → ${formatAmount(amount)}.`,
      () => Promise.resolve({ amount, event: 'MANUAL_LEDGER_SET', details: {} }),
    ),
  );

  mutationOptions(
    ledger
      .command('adopt')
      .summary(
        "set the ledger to the exchange snapshot's amount (way out of an external-trade hold)",
      )
      .description(
        "set the ledger to the exchange snapshot's amount — the way out of a hold caused by a trade\n" +
          'posguard did not see. Refuses a missing snapshot, or one older than P34_EXCHANGE_FRESHNESS_SEC.',
      )
      .argument('<symbol>', 'symbol, e.g. BTCUSDT', symbolArg)
      .option('--allow-stale', 'adopt a snapshot older than P34_EXCHANGE_FRESHNESS_SEC')
      .addHelpText(
        'after',
        '\nExample:\n  posguard ledger adopt BTCUSDT --reason "closed 0.01 by hand on the exchange" --yes',
      ),
  ).action((symbol: string, options: LedgerOptions) =>
    mutate(
      symbol,
      options,
      (state) =>
        `Set the ledger of ${symbol} (now ${current(state)}) to the exchange snapshot's amount.`,
      ({ redis, keys, config }, nowMs) =>
        adoptTarget(
          redis,
          keys,
          symbol,
          {
            freshnessSec: config.reconcile.exchangeFreshnessSec,
            allowStale: options.allowStale === true,
          },
          nowMs,
        ),
    ),
  );
}
