/**
 * `posguard permit show PLAN` — the P3.3 permit and the Governor permit of a plan, decoded,
 * with TTLs, and whether the gate would pass them. A key of the wrong type (a bypass
 * script wrote a hash, LESSONS #18) is reported, not a crash. Reads only; consumes nothing.
 */
import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import { type Amount, formatAmount } from '../../domain/amount.js';
import { decodePermit } from '../../domain/permit.js';
import { decodeGovernorPermit, p33PermitPasses } from '../../gate/permit-codec.js';
import { configFrom, withEnvFile } from '../config-option.js';
import { planArg } from '../arguments.js';
import { print, printJson } from '../output/json.js';
import { withSession } from '../redis-session.js';

export interface PermitView {
  key: string;
  /** missing | ok | invalid | wrong_type */
  state: string;
  type: string;
  ttl_sec: number | null;
  raw: string | null;
  problem?: string;
  /** Whether this permit, alone, would pass the gate. */
  passes: boolean;
  decoded?: Record<string, unknown>;
}

async function readKey(redis: Redis, key: string): Promise<Omit<PermitView, 'state' | 'passes'>> {
  const [typeR, ttlR] = (await redis.pipeline().type(key).pttl(key).exec()) ?? [];
  const type = (typeR?.[1] as string | undefined) ?? 'none';
  const pttl = typeof ttlR?.[1] === 'number' ? ttlR[1] : -2;
  const raw = type === 'string' ? await redis.get(key) : null;
  return { key, type, ttl_sec: pttl >= 0 ? pttl / 1000 : null, raw };
}

function notReadable(view: Omit<PermitView, 'state' | 'passes'>): PermitView | null {
  if (view.type === 'none') return { ...view, state: 'missing', passes: false };
  if (view.type !== 'string' || view.raw === null) {
    return {
      ...view,
      state: 'wrong_type',
      passes: false,
      problem: `key is a ${view.type}, not a JSON string`,
    };
  }
  return null;
}

function p33View(base: Omit<PermitView, 'state' | 'passes'>): PermitView {
  const read = decodePermit(base.raw);
  const text = (a: Amount | null): string | null => (a === null ? null : formatAmount(a));
  if (read.kind === 'missing') return { ...base, state: 'missing', passes: false };
  if (read.kind === 'invalid')
    return { ...base, state: 'invalid', passes: false, problem: read.problem };
  const { planId, symbol, tsMs } = read.permit;
  if (read.kind === 'deny') {
    const { reason, details } = read.permit;
    return {
      ...base,
      state: 'ok',
      passes: false,
      decoded: { plan_id: planId, symbol, allow: false, reason, details, ts_ms: tsMs },
    };
  }
  const pm = read.permit;
  return {
    ...base,
    state: 'ok',
    passes: p33PermitPasses(read),
    decoded: {
      plan_id: planId,
      symbol,
      allow: true,
      safe_close_qty: formatAmount(pm.safeCloseQty),
      exchange_position_amt: text(pm.exchangeAmt),
      ledger_position_amt: text(pm.ledgerAmt),
      snapshot_age_sec: pm.snapshotAgeSec,
      ts_ms: tsMs,
    },
  };
}

function governorView(base: Omit<PermitView, 'state' | 'passes'>): PermitView {
  const read = decodeGovernorPermit(base.raw ?? '');
  if (read.kind === 'invalid')
    return { ...base, state: 'invalid', passes: false, problem: read.problem };
  return { ...base, state: 'ok', passes: read.permit.granted, decoded: { ...read.permit.fields } };
}

export async function readPermits(
  redis: Redis,
  governorKey: string,
  p33Key: string,
): Promise<{ p33: PermitView; governor: PermitView }> {
  const [p33Raw, govRaw] = await Promise.all([readKey(redis, p33Key), readKey(redis, governorKey)]);
  return {
    p33: notReadable(p33Raw) ?? p33View(p33Raw),
    governor: notReadable(govRaw) ?? governorView(govRaw),
  };
}

function describeView(title: string, view: PermitView): string[] {
  const ttl = view.ttl_sec === null ? '' : `, TTL ${view.ttl_sec.toFixed(1)} s`;
  const lines = [`${title}  ${view.key}  (${view.state}${ttl})`];
  if (view.problem !== undefined) lines.push(`  problem: ${view.problem}`);
  if (view.decoded !== undefined) {
    for (const [name, value] of Object.entries(view.decoded)) {
      if (value !== null && value !== undefined)
        lines.push(
          `  ${name.padEnd(22)} ${typeof value === 'string' ? value : JSON.stringify(value)}`,
        );
    }
  }
  lines.push(`  passes the gate: ${view.passes ? 'yes' : 'no'}`);
  return lines;
}

async function show(planId: string, options: { envFile?: string; json?: boolean }): Promise<void> {
  const config = configFrom(options);
  const views = await withSession(config, ({ redis, keys }) =>
    readPermits(redis, keys.permitGovernor(planId), keys.permitP33(planId)),
  );
  const gate = views.p33.passes && views.governor.passes;
  if (options.json === true) {
    printJson({ plan_id: planId, p33: views.p33, governor: views.governor, gate_would_pass: gate });
    return;
  }
  print(
    [
      `plan ${planId}`,
      ...describeView('P3.3 permit', views.p33),
      ...describeView('governor permit', views.governor),
      `gate consume would ${gate ? 'PASS (and consume both)' : 'REFUSE'}`,
    ].join('\n'),
  );
}

export function registerPermit(program: Command): void {
  const permit = program.command('permit').description('inspect the permits of a plan (read-only)');
  withEnvFile(
    permit
      .command('show')
      .description(
        'the P3.3 and Governor permits of PLAN, decoded, with TTLs; wrong-typed keys are reported',
      )
      .argument('<plan>', 'plan id', planArg)
      .option('--json', 'print as JSON')
      .addHelpText('after', '\nExample:\n  posguard permit show 7f3a-plan --json'),
  ).action((planId: string, options: { envFile?: string; json?: boolean }) =>
    show(planId, options),
  );
}
