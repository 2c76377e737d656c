/**
 * `posguard gate consume PLAN` — the permit gate from a shell (SPEC §6): consumes the
 * Governor and P3.3 permits of a plan (both or neither) and prints safe_close_qty.
 * Exit 0 when consumed, 1 when refused.
 */
import type { Command } from 'commander';
import { configFrom, withEnvFile } from '../config-option.js';
import { consumePermits, type GateResult } from '../../gate/consume-permits.js';
import { createRedis } from '../../redis/connection.js';
import { closeRedis, keysFor, readyOrFirstError } from '../redis-session.js';
import { intArg, planArg } from '../arguments.js';
import { print, printJson } from '../output/json.js';
import { formatAmount } from '../../domain/amount.js';

interface ConsumeOptions {
  envFile?: string;
  waitMs?: number;
  json?: boolean;
}

export function gateResultJson(planId: string, result: GateResult): Record<string, unknown> {
  if (result.ok) {
    const p = result.permit;
    return {
      plan_id: planId,
      ok: true,
      safe_close_qty: result.safeCloseQty,
      symbol: p.symbol,
      exchange_position_amt: p.exchangeAmt === null ? null : formatAmount(p.exchangeAmt),
      ledger_position_amt: p.ledgerAmt === null ? null : formatAmount(p.ledgerAmt),
      snapshot_age_sec: p.snapshotAgeSec,
    };
  }
  return {
    plan_id: planId,
    ok: false,
    code: result.code,
    ...(result.p33Reason === undefined ? {} : { p33_reason: result.p33Reason }),
    ...(result.governorReason === undefined ? {} : { governor_reason: result.governorReason }),
    ...(result.detail === undefined ? {} : { detail: result.detail }),
  };
}

function describe(planId: string, result: GateResult): string {
  if (result.ok) {
    return `CONSUMED ${planId}: safe_close_qty=${result.safeCloseQty} symbol=${result.permit.symbol ?? '?'}`;
  }
  const why = result.p33Reason ?? result.governorReason ?? '';
  const detail = result.detail === undefined ? '' : ` (${result.detail})`;
  return `REFUSED ${planId}: ${result.code}${why === '' ? '' : ` ${why}`}${detail} — do not execute`;
}

async function consume(planId: string, options: ConsumeOptions): Promise<void> {
  const config = configFrom(options);
  const redis = createRedis(config.redis, { name: 'posguard-gate' });
  redis.on('error', () => undefined);
  try {
    // An unreachable Redis is a refusal (missing_permit_or_redis), not a crash.
    await readyOrFirstError(redis, 2000).catch(() => undefined);
    const result = await consumePermits(redis, keysFor(config), planId, {
      waitMs: options.waitMs ?? config.gate.waitMs,
      minReplicasAck: config.redis.minReplicasAck ?? 0,
      ...(config.redis.replicaWaitMs === undefined
        ? {}
        : { replicaWaitMs: config.redis.replicaWaitMs }),
    });
    if (options.json === true) printJson(gateResultJson(planId, result));
    else print(describe(planId, result));
    if (!result.ok) process.exitCode = 1;
  } finally {
    await closeRedis(redis);
  }
}

export function registerGate(program: Command): void {
  const gate = program
    .command('gate')
    .description('the permit gate the Apply Layer runs before executing a plan (SPEC §6)');
  withEnvFile(
    gate
      .command('consume')
      .summary('consume both permits of a plan (or neither) and print safe_close_qty')
      .description(
        'consume the Governor and P3.3 permits of PLAN — both or neither — and print safe_close_qty.\n' +
          'Waits up to --wait-ms for a P3.3 permit that is not there yet. Exit 0 consumed, 1 refused.',
      )
      .argument('<plan>', 'plan id (the plan_id of the apply.plan entry)', planArg)
      .option(
        '--wait-ms <ms>',
        'how long to wait for a missing P3.3 permit (default GATE_WAIT_MS, 1200)',
        intArg(0, 60000),
      )
      .option('--json', 'print the result as JSON')
      .addHelpText(
        'after',
        '\nRefusal codes: missing_permit_or_redis, governor_denied, missing_or_denied_p33_permit,\n' +
          'not_replicated (consumed, but fewer than REDIS_MIN_REPLICAS_ACK replicas confirmed it).\n' +
          'Examples:\n  posguard gate consume 7f3a-plan --json\n  posguard gate consume 7f3a-plan --wait-ms 3000',
      ),
  ).action((planId: string, options: ConsumeOptions) => consume(planId, options));
}
