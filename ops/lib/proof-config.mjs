#!/usr/bin/env node
// Resolves the configuration a running posguard deployment uses, for the proof scripts:
// the same loader as the services (dist/src/config: env file + environment, environment
// wins, defaults, validation) and the same key builder (dist/src/redis/keys.js), so the
// scripts never re-implement a default or a key name. Prints shell assignments (quoted)
// for `eval`. Usage:
//   node proof-config.mjs --brain-env FILE [--reconcile-env FILE] --symbol SYM [--plan ID]...
// Exit 1 with the configuration problems on stderr when a file is invalid.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const app = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = join(app, 'dist', 'src');
if (!existsSync(join(dist, 'config', 'config.js'))) {
  process.stderr.write(`proof-config: no build under ${app}/dist (run npm run build)\n`);
  process.exit(1);
}
const { loadConfig } = await import(join(dist, 'config', 'config.js'));
const { mergeEnv } = await import(join(dist, 'config', 'env-file.js'));
const { buildKeys } = await import(join(dist, 'redis', 'keys.js'));

function parseArgs(argv) {
  const out = { plans: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--brain-env') out.brainEnv = value;
    else if (flag === '--reconcile-env') out.reconcileEnv = value;
    else if (flag === '--symbol') out.symbol = value;
    else if (flag === '--plan') out.plans.push(value);
    else throw new Error(`unknown option ${flag}`);
  }
  if (!out.brainEnv && !out.reconcileEnv) throw new Error('give --brain-env and/or --reconcile-env');
  if (!out.symbol) throw new Error('--symbol is required');
  return out;
}

function load(file) {
  if (!file) return null;
  try {
    return loadConfig(mergeEnv(process.env, file));
  } catch (error) {
    process.stderr.write(`proof-config: ${file}: ${error.message}\n`);
    process.exit(1);
  }
}

/** An HTTP base URL for a metrics endpoint bound to host:port (wildcards → loopback). */
function httpUrl(host, port) {
  const target = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${target.includes(':') ? `[${target}]` : target}:${port}`;
}

function redisTarget(redis) {
  const url = new URL(redis.url);
  const pathDb = url.pathname.replace(/^\//, '');
  return {
    PG_REDIS_HOST: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    PG_REDIS_PORT: url.port || '6379',
    // ioredis lets a /N path in the URL win over REDIS_DB; so do we
    PG_REDIS_DB: /^\d+$/.test(pathDb) ? pathDb : String(redis.db),
    PG_REDIS_USER: decodeURIComponent(url.username),
    PG_REDIS_PASSWORD: decodeURIComponent(url.password),
    PG_REDIS_TLS: url.protocol === 'rediss:' ? '1' : '0',
  };
}

const quote = (value) => `'${String(value).replaceAll("'", `'\\''`)}'`;

const args = parseArgs(process.argv.slice(2));
const brain = load(args.brainEnv);
const reconcile = load(args.reconcileEnv);
const base = reconcile ?? brain;
const keys = buildKeys(base.keys.prefix, base.keys.governorPermitTemplate);
const sym = args.symbol;
const vars = {
  ...redisTarget(base.redis),
  PG_PREFIX: base.keys.prefix,
  PG_SAME_REDIS:
    brain && reconcile && (brain.redis.url !== reconcile.redis.url || brain.keys.prefix !== reconcile.keys.prefix)
      ? '0'
      : '1',
  K_SNAPSHOT: keys.snapshot(sym),
  K_LEDGER: keys.ledger(sym),
  K_PLAN_STREAM: keys.applyPlanStream,
  K_RESULT_STREAM: keys.applyResultStream,
  K_HOLD: keys.hold(sym),
  K_HOLD_OWNER: keys.holdOwner(sym),
  K_STATE: keys.reconcileState(sym),
  K_EVENTS: keys.reconcileEventsStream,
  K_HEARTBEAT: keys.reconcileHeartbeat,
  K_BRAIN_HEARTBEAT: keys.brainHeartbeat,
  K_LOT: keys.symbolLotSize(sym),
};
args.plans.forEach((plan, i) => {
  vars[`K_PERMIT_${i}`] = keys.permitP33(plan);
});
if (brain) {
  Object.assign(vars, {
    PG_HAVE_BRAIN: '1',
    PG_BRAIN_METRICS: httpUrl(brain.brain.metricsHost, brain.brain.metricsPort),
    PG_P33_ALLOWLIST: brain.brain.allowlist.join(','),
    PG_POLL_SEC: brain.brain.pollSec,
    PG_STALE_SEC: brain.brain.staleThresholdSec,
    PG_COOLDOWN_SEC: brain.brain.cooldownSec,
    PG_QTY_TOLERANCE_PCT: brain.brain.qtyTolerancePct,
    PG_REQUIRE_RECONCILE: brain.brain.requireReconcile ? '1' : '0',
    PG_EXCHANGE_URL: brain.binance.baseUrl,
    PG_POSITION_RISK_PATH: `/fapi/${brain.binance.positionRiskVersion}/positionRisk`,
  });
} else {
  vars.PG_HAVE_BRAIN = '0';
}
if (reconcile) {
  Object.assign(vars, {
    PG_HAVE_RECONCILE: '1',
    PG_RECONCILE_METRICS: httpUrl(reconcile.reconcile.metricsHost, reconcile.reconcile.metricsPort),
    PG_P34_ALLOWLIST: reconcile.reconcile.allowlist.join(','),
    PG_CADENCE_SEC: reconcile.reconcile.cadenceSec,
    PG_FRESHNESS_SEC: reconcile.reconcile.exchangeFreshnessSec,
    PG_HOLD_TTL_SEC: reconcile.reconcile.holdTtlSec,
  });
} else {
  vars.PG_HAVE_RECONCILE = '0';
}
for (const [name, value] of Object.entries(vars)) process.stdout.write(`${name}=${quote(value)}\n`);
