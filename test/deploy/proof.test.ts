/**
 * ops/p33_proof.sh and ops/p34_proof.sh against a running deployment in miniature: a
 * private redis-server, the simulated venue, and the two services started with the units'
 * ExecStart lines and the deploy env files (environment overrides only for Redis, ports,
 * the venue URL, the proof symbol and short intervals). Every check must PASS; the scripts
 * must also FAIL (exit 1) when the deployment is not right, and clean up after themselves.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../src/dev/redis-server.js';
import { buildKeys } from '../../src/redis/keys.js';
import { uniquePrefix } from '../helpers/redis.js';
import { startStack, type Stack } from './stack.js';
import { hasTool, repoPath, run, skipNotice, type RunResult } from './tools.js';

const SYMBOL = 'PROOFUSDT';
const BRAIN_ENV = repoPath('deploy/config/position-state-brain.env');
const RECONCILE_ENV = repoPath('deploy/config/reconcile-engine.env');

const ready = existsSync(repoPath('dist/src/cli/main.js')) && hasTool('redis-cli');
if (!ready)
  skipNotice(
    'dist/ or redis-cli',
    'the proof-script tests',
    'npm run build; apt-get install redis-tools',
  );

/** The PASS/FAIL/SKIP lines of a proof run, as [verdict, check name]. */
function verdicts(result: RunResult): [string, string][] {
  return result.stdout
    .split('\n')
    .map((line) => /^(PASS|FAIL|SKIP) {2}(.+?)\s{2,}/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1] ?? '', (m[2] ?? '').trim()]);
}

describe.skipIf(!ready)('proof scripts against a running deployment', () => {
  const prefix = uniquePrefix('proof');
  const keys = buildKeys(prefix);
  let server: EmbeddedRedis;
  let redis: Redis;
  let stack: Stack;

  const proof = (
    script: string,
    args: string[],
    env: NodeJS.ProcessEnv = stack.env,
  ): Promise<RunResult> =>
    run('bash', [repoPath('ops', script), ...args], { env, timeoutMs: 120_000 });

  beforeAll(async () => {
    server = await startEmbeddedRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    stack = await startStack({
      redisUrl: server.url,
      prefix,
      symbols: ['BTCUSDT', SYMBOL],
      env: {
        P33_POLL_SEC: '0.5',
        P33_STALE_THRESHOLD_SEC: '2',
        P34_LOOP_CADENCE_SEC: '0.2',
        P34_EXCHANGE_FRESHNESS_SEC: '2',
      },
    });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    await redis?.quit();
    await server?.stop();
  }, 30_000);

  it('resolves the same keys as src/redis/keys.ts (the scripts build none themselves)', () => {
    const out = execFileSync(
      'bash',
      [
        '-c',
        'source "$0" && resolve_config "$@"',
        repoPath('ops/lib/proof-common.sh'),
        '--brain-env',
        BRAIN_ENV,
        '--reconcile-env',
        RECONCILE_ENV,
        '--symbol',
        SYMBOL,
        '--plan',
        'proof-1-normal',
      ],
      { env: stack.env, encoding: 'utf8' },
    );
    const vars = Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((line) => {
          const [name, value] = [
            line.slice(0, line.indexOf('=')),
            line.slice(line.indexOf('=') + 1),
          ];
          return [name, value.replace(/^'|'$/g, '')];
        }),
    );
    expect(vars).toMatchObject({
      K_SNAPSHOT: keys.snapshot(SYMBOL),
      K_LEDGER: keys.ledger(SYMBOL),
      K_PLAN_STREAM: keys.applyPlanStream,
      K_RESULT_STREAM: keys.applyResultStream,
      K_HOLD: keys.hold(SYMBOL),
      K_HOLD_OWNER: keys.holdOwner(SYMBOL),
      K_STATE: keys.reconcileState(SYMBOL),
      K_EVENTS: keys.reconcileEventsStream,
      K_HEARTBEAT: keys.reconcileHeartbeat,
      K_LOT: keys.symbolLotSize(SYMBOL),
      K_PERMIT_0: keys.permitP33('proof-1-normal'),
      PG_PREFIX: prefix,
      PG_REDIS_PORT: String(server.port),
      PG_EXCHANGE_URL: stack.venueUrl,
    });
  });

  it('p33_proof.sh: the seed five tests all PASS', async () => {
    const result = await proof('p33_proof.sh', [
      '--env-file',
      BRAIN_ENV,
      '--reconcile-env-file',
      RECONCILE_ENV,
      '--require-all',
    ]);
    const lines = verdicts(result);
    expect(
      lines.map(([, name]) => name),
      result.stdout,
    ).toEqual([
      'preconditions',
      '1 normal execution',
      '2 stale snapshot',
      '3 no position',
      '4 cooldown',
      '5 qty mismatch',
      'cleanup',
    ]);
    expect(
      lines.filter(([verdict]) => verdict !== 'PASS'),
      result.stdout + stack.logs(),
    ).toEqual([]);
    expect(result.stdout).toContain('ALLOW safe_close_qty=0.028');
    expect(result.stdout).toMatch(/p33_proof: 7 PASS, 0 FAIL, 0 SKIP/);
    expect(result.code).toBe(0);
  }, 90_000);

  it('p34_proof.sh: metrics, heartbeat, state, drift hold, manual fix and side mismatch all PASS', async () => {
    const result = await proof('p34_proof.sh', [
      '--env-file',
      RECONCILE_ENV,
      '--brain-env-file',
      BRAIN_ENV,
      '--require-all',
    ]);
    const lines = verdicts(result);
    expect(
      lines.map(([, name]) => name),
      result.stdout,
    ).toEqual([
      'preconditions',
      'metrics',
      'health',
      'heartbeat',
      'state',
      'drift sets hold',
      'drift state fields',
      'HOLD_SET event',
      'hold metric',
      'manual fix clears hold',
      'side mismatch',
      'side mismatch fixed',
      'cleanup',
    ]);
    expect(
      lines.filter(([verdict]) => verdict !== 'PASS'),
      result.stdout + stack.logs(),
    ).toEqual([]);
    expect(result.code).toBe(0);
  }, 90_000);

  it('left the deployment clean: symbol flat and OK, no permit, no proof plan in apply.plan', async () => {
    expect(await redis.hget(keys.snapshot(SYMBOL), 'position_amt')).toBe('0');
    expect(await redis.hget(keys.ledger(SYMBOL), 'ledger_amt')).toBe('0');
    expect(await redis.hget(keys.reconcileState(SYMBOL), 'status')).toBe('OK');
    expect(await redis.exists(keys.hold(SYMBOL))).toBe(0);
    expect(await redis.keys(`${prefix}:permit:*`)).toEqual([]);
    const plans = await redis.xrange(keys.applyPlanStream, '-', '+');
    expect(plans.filter(([, fields]) => fields.includes(SYMBOL))).toEqual([]);
  });

  it('against a real exchange (no venue control API) trades nothing: position checks SKIP, the rest PASS', async () => {
    // the services keep their venue; only the scripts see an exchange without /_control
    const env = { ...stack.env, BINANCE_BASE_URL: 'http://127.0.0.1:1' };
    const p33 = await proof(
      'p33_proof.sh',
      ['--env-file', BRAIN_ENV, '--reconcile-env-file', RECONCILE_ENV],
      env,
    );
    expect(verdicts(p33), p33.stdout).toEqual([
      ['PASS', 'preconditions'],
      ['SKIP', '1 normal execution'],
      ['SKIP', '2 stale snapshot'],
      ['PASS', '3 no position'],
      ['SKIP', '4 cooldown'],
      ['SKIP', '5 qty mismatch'],
    ]);
    expect(p33.code).toBe(0);
    const p34 = await proof(
      'p34_proof.sh',
      ['--env-file', RECONCILE_ENV, '--brain-env-file', BRAIN_ENV],
      env,
    );
    const lines = verdicts(p34);
    expect(
      lines.filter(([verdict]) => verdict === 'FAIL'),
      p34.stdout,
    ).toEqual([]);
    expect(lines).toContainEqual(['PASS', 'manual fix clears hold']);
    expect(lines).toContainEqual(['SKIP', 'side mismatch']);
    expect(p34.code).toBe(0);
    // --require-all turns a SKIP into a failure
    const strict = await proof('p33_proof.sh', ['--env-file', BRAIN_ENV, '--require-all'], env);
    expect(strict.code).toBe(1);
    expect(await redis.hget(keys.ledger(SYMBOL), 'ledger_amt')).toBe('0');
    expect(await redis.exists(keys.hold(SYMBOL))).toBe(0);
  }, 90_000);

  it('fails (exit 1) when the proof symbol is not allowlisted', async () => {
    const result = await proof('p33_proof.sh', ['--env-file', BRAIN_ENV, '--symbol', 'ETHUSDT']);
    expect(result.code).toBe(1);
    expect(verdicts(result)).toEqual([['FAIL', 'allowlist']]);
  });

  it('fails (exit 1) when the brain is down, and so does P3.4 once its snapshots stop', async () => {
    expect(await stack.stopService('brain')).toBe(0);
    const p33 = await proof('p33_proof.sh', [
      '--env-file',
      BRAIN_ENV,
      '--reconcile-env-file',
      RECONCILE_ENV,
    ]);
    expect(p33.code).toBe(1);
    expect(verdicts(p33)).toEqual([['FAIL', 'brain']]);
    const p34 = await proof('p34_proof.sh', [
      '--env-file',
      RECONCILE_ENV,
      '--brain-env-file',
      BRAIN_ENV,
    ]);
    expect(p34.code).toBe(1);
    expect(verdicts(p34)).toContainEqual(['FAIL', 'setup']);
  }, 60_000);
});
