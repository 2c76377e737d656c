/**
 * `posguard hold set|clear SYM` — an operator's hold (SPEC §10, LESSONS #17). A hold set
 * here belongs to the operator: the reconcile engine never deletes it; it expires or an
 * operator clears it. Audited as MANUAL_HOLD_SET / MANUAL_HOLD_CLEARED.
 */
import type { Command } from 'commander';
import { configFrom, withEnvFile } from '../config-option.js';
import { secondsArg, symbolArg, systemClock } from '../arguments.js';
import {
  type MutationOptions,
  confirmMutation,
  operatorName,
  requiredReason,
} from '../output/confirm.js';
import { print, printJson } from '../output/json.js';
import { withSession } from '../redis-session.js';
import { clearManualHold, setManualHold } from '../../operator/manual-hold.js';
import { redactUrl } from '../../observability/logger.js';

interface HoldOptions extends MutationOptions {
  envFile?: string;
  ttl?: number;
  json?: boolean;
}

function mutationOptions(command: Command): Command {
  return withEnvFile(command)
    .requiredOption('--reason <text>', 'why (recorded in the audit event)')
    .option('--operator <name>', 'who (recorded in the audit event; default $USER)')
    .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--json', 'print the result as JSON');
}

async function holdSet(symbol: string, options: HoldOptions): Promise<void> {
  const config = configFrom(options);
  const reason = requiredReason(options.reason);
  const operator = operatorName(options.operator);
  const ttlSec = options.ttl ?? config.reconcile.holdTtlSec;
  const summary = `Set an operator hold on ${symbol} for ${ttlSec} s (prefix ${config.keys.prefix}, Redis ${redactUrl(config.redis.url)}).`;
  if (!(await confirmMutation(summary, options.yes))) {
    print('aborted: nothing changed', process.stderr);
    process.exitCode = 1;
    return;
  }
  const reply = await withSession(config, ({ redis, keys }) =>
    setManualHold(
      redis,
      keys,
      { symbol, nowMs: systemClock.nowMs(), reason, operator },
      ttlSec * 1000,
    ),
  );
  const previous = reply.status === 'OK' ? reply.previousOwner : 'none';
  if (options.json === true) {
    printJson({
      symbol,
      hold: true,
      owner: 'operator',
      ttl_sec: ttlSec,
      previous_owner: previous,
      operator,
      reason,
    });
    return;
  }
  print(
    `HOLD SET ${symbol} by ${operator} for ${ttlSec} s (previous hold: ${previous}). Event MANUAL_HOLD_SET written.`,
  );
  print(
    'The reconcile engine will not delete this hold; it expires, or clear it with `posguard hold clear`.',
  );
}

async function holdClear(symbol: string, options: HoldOptions): Promise<void> {
  const config = configFrom(options);
  const reason = requiredReason(options.reason);
  const operator = operatorName(options.operator);
  const summary = `Clear the hold on ${symbol} (prefix ${config.keys.prefix}, Redis ${redactUrl(config.redis.url)}).`;
  if (!(await confirmMutation(summary, options.yes))) {
    print('aborted: nothing changed', process.stderr);
    process.exitCode = 1;
    return;
  }
  const reply = await withSession(config, ({ redis, keys }) =>
    clearManualHold(redis, keys, { symbol, nowMs: systemClock.nowMs(), reason, operator }),
  );
  const cleared = reply.status === 'OK';
  if (options.json === true) {
    printJson({
      symbol,
      cleared,
      previous_owner: cleared ? reply.previousOwner : 'none',
      operator,
      reason,
    });
    return;
  }
  if (!cleared) {
    print(`no hold on ${symbol}: nothing changed, no event written`);
    return;
  }
  print(
    `HOLD CLEARED ${symbol} by ${operator} (was: ${reply.previousOwner}). Event MANUAL_HOLD_CLEARED written.`,
  );
  print(
    'Note: if the reconcile engine still sees its condition (drift, stale snapshot, …) it sets a new hold ' +
      'within one cycle. Fix the cause (e.g. `posguard ledger adopt`) rather than clearing repeatedly.',
  );
}

export function registerHold(program: Command): void {
  const hold = program
    .command('hold')
    .description("set or clear an operator's hold on a symbol (blocks P3.3 permits)");
  mutationOptions(
    hold
      .command('set')
      .description(
        'set an operator hold: P3.3 denies every plan of SYM (reconcile_hold_active) until it expires or is cleared',
      )
      .argument('<symbol>', 'symbol, e.g. BTCUSDT', symbolArg)
      .option(
        '--ttl <seconds>',
        'hold lifetime in seconds (default P34_HOLD_TTL_SEC, 300)',
        secondsArg,
      )
      .addHelpText(
        'after',
        '\nExample:\n  posguard hold set BTCUSDT --reason "manual trade in progress" --ttl 900 --yes',
      ),
  ).action((symbol: string, options: HoldOptions) => holdSet(symbol, options));
  mutationOptions(
    hold
      .command('clear')
      .description(
        'clear the hold on SYM, whoever set it (the engine re-arms its own hold if its condition lasts)',
      )
      .argument('<symbol>', 'symbol, e.g. BTCUSDT', symbolArg)
      .addHelpText(
        'after',
        '\nExample:\n  posguard hold clear BTCUSDT --reason "ledger adopted after manual close" --yes',
      ),
  ).action((symbol: string, options: HoldOptions) => holdClear(symbol, options));
}
