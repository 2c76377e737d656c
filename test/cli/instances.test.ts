/**
 * `posguard status` and `posguard doctor` on several instances (SPEC §11), against real
 * Redis and the built CLI: leases taken by the real `lease_acquire` script, presence records
 * written by the real writer, and everything an operator can break by hand — records that
 * are not JSON or not strings, leases without expiry or of the wrong type, epochs and fences
 * that are not integers, stale claims — each shown as a problem with the right exit code.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startVenue, type Venue } from '../../src/dev/venue/venue.js';
import type { LeaderRole } from '../../src/domain/leadership.js';
import { InstancePresence } from '../../src/redis/ha/presence.js';
import { leaseAcquire } from '../../src/redis/scripts/lease-acquire.js';
import { runScript } from '../../src/redis/scripts/script.js';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { assertBuilt, runCli } from './run-cli.js';

const API_KEY = 'instancesApiKey1';
const API_SECRET = 'instancesApiSecret1';
const STARTED = Date.now() - 3_723_000; // 1h02m03s ago

let t: TestRedis;
let venue: Venue;

beforeAll(async () => {
  assertBuilt();
  venue = await startVenue({ apiKey: API_KEY, apiSecret: API_SECRET });
});
afterAll(() => venue.close());
beforeEach(() => {
  t = openTestRedis('inst');
});
afterEach(() => t.close());

const env = (): Record<string, string> => ({
  REDIS_URL: t.url,
  KEY_PREFIX: t.prefix,
  P34_ALLOWLIST: 'BTCUSDT',
  P33_ALLOWLIST: 'BTCUSDT',
  BINANCE_BASE_URL: venue.baseUrl,
  BINANCE_API_KEY: API_KEY,
  BINANCE_API_SECRET: API_SECRET,
  POSGUARD_LEASE_MS: '60000', // the leases below: each lease's age is then known
});

function presence(service: string, id: string, roles: LeaderRole[]): InstancePresence {
  return new InstancePresence({
    redis: t.redis,
    keys: t.keys,
    service,
    instanceId: id,
    roles,
    version: '0.2.0',
    startedMs: STARTED,
    ttlMs: 60_000,
  });
}

/** Takes the role's lease with the real script (a long lease: the test must not see it lapse). */
async function acquire(role: LeaderRole, id: string): Promise<number> {
  const reply = await runScript(t.redis, leaseAcquire, {
    keys: t.keys,
    role,
    instanceId: id,
    leaseMs: 60_000,
  });
  if (reply.status !== 'acquired') throw new Error(`${role}: ${reply.status}`);
  return reply.epoch;
}

/** host-a leads reconcile, host-b stands by; host-p leads brain-poller. */
async function healthy(): Promise<{ reconcile: number; poller: number }> {
  const reconcile = await acquire('reconcile', 'host-a:1');
  const poller = await acquire('brain-poller', 'host-p:3');
  await presence('reconcile', 'host-a:1', ['reconcile']).write([
    { role: 'reconcile', epoch: reconcile },
  ]);
  await presence('reconcile', 'host-b:2', ['reconcile']).write([]);
  await presence('brain', 'host-p:3', ['brain-poller']).write([
    { role: 'brain-poller', epoch: poller },
  ]);
  return { reconcile, poller };
}

interface Check {
  name: string;
  level: string;
  message: string;
}

async function doctor(): Promise<{ code: number | null; checks: Check[]; text: string }> {
  const json = await runCli(['doctor', '--json'], { env: env() });
  const text = await runCli(['doctor'], { env: env() });
  expect(text.code).toBe(json.code);
  const checks = (JSON.parse(json.stdout) as { checks: Check[] }).checks;
  return {
    code: json.code,
    checks: checks.filter((c) => /^(leader|instances)/.test(c.name)),
    text: text.stdout,
  };
}

const lines = (checks: Check[]): string[][] => checks.map((c) => [c.level, c.name]);

describe('posguard status: instances and leaders', () => {
  it('one line per instance and per role, in text and in --json', async () => {
    const epochs = await healthy();
    const run = await runCli(['status'], { env: env() });
    expect(run.code).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(/^SYMBOL\s+EXCHANGE/);
    const [, section] = out.split('\ninstances\n');
    const rows = (section ?? '').split('\n');
    expect(rows[0]).toMatch(
      /^SERVICE\s+ID\s+VERSION\s+STARTED\s+UP\s+ROLES\s+LEADS\s+TTL\s+PROBLEM$/,
    );
    expect(rows[1]).toMatch(
      new RegExp(
        `^brain\\s+host-p:3\\s+0\\.2\\.0\\s+\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\s+1h02m\\s+brain-poller\\s+brain-poller@${epochs.poller}\\s+\\d+\\.\\ds\\s+-$`,
      ),
    );
    expect(rows[2]).toMatch(
      new RegExp(
        `^reconcile\\s+host-a:1\\s+0\\.2\\.0\\s+\\S+\\s+1h02m\\s+reconcile\\s+reconcile@${epochs.reconcile}\\s`,
      ),
    );
    expect(rows[3]).toMatch(/^reconcile\s+host-b:2\s+0\.2\.0\s+\S+\s+1h02m\s+reconcile\s+-\s/);
    const [, leaders] = out.split('\nleaders\n');
    expect(leaders?.split('\n')[0]).toMatch(
      /^ROLE\s+LEADER\s+EPOCH\s+FENCE\s+LEASE_AGE\s+LEASE_LEFT\s+STATE$/,
    );
    const age = '\\d+ms\\s+\\d+ms';
    expect(leaders).toMatch(
      new RegExp(
        `\\nreconcile\\s+host-a:1\\s+${epochs.reconcile}\\s+${epochs.reconcile}\\s+${age}\\s+leader\\n`,
      ),
    );
    expect(leaders).toMatch(
      new RegExp(
        `\\nbrain-poller\\s+host-p:3\\s+${epochs.poller}\\s+${epochs.poller}\\s+${age}\\s+leader\\n`,
      ),
    );

    // status --json keeps its shape (the rows); `instances` prints the same tables, and
    // its --json the HA state
    const rowsJson = await runCli(['status', '--json'], { env: env() });
    const symbolRows = JSON.parse(rowsJson.stdout) as Array<{ symbol: string }>;
    expect(symbolRows.map((s) => s.symbol)).toEqual(['BTCUSDT']);
    const text = await runCli(['instances'], { env: env() });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^instances\n/);
    expect(text.stdout).toMatch(
      /\nSERVICE\s+ID\s+VERSION\s+STARTED\s+UP\s+ROLES\s+LEADS\s+TTL\s+PROBLEM\n/,
    );
    expect(text.stdout).toMatch(
      /\nleaders\nROLE\s+LEADER\s+EPOCH\s+FENCE\s+LEASE_AGE\s+LEASE_LEFT\s+STATE\n/,
    );
    expect(text.stdout).not.toMatch(/SYMBOL/);
    const json = await runCli(['instances', '--json'], { env: env() });
    const report = {
      ha: JSON.parse(json.stdout) as {
        instances: Array<{ id: string; problem: string | null }>;
        roles: Array<Record<string, unknown>>;
      },
    };
    expect(report.ha.instances.map((i) => [i.id, i.problem])).toEqual([
      ['host-p:3', null],
      ['host-a:1', null],
      ['host-b:2', null],
    ]);
    expect(report.ha.roles[0]).toMatchObject({
      role: 'reconcile',
      state: 'leader',
      holder: 'host-a:1',
      epoch: epochs.reconcile,
      fence: epochs.reconcile,
      leader_epoch: epochs.reconcile,
      campaigners: ['host-a:1', 'host-b:2'],
    });
  });

  it('records that are not JSON or not strings, and broken lease keys, show as problems (exit 0)', async () => {
    await healthy();
    await t.redis.set(t.keys.instance('brain', 'host-q:4'), 'not json', 'PX', 60_000);
    await t.redis.hset(t.keys.instance('reconcile', 'host-r:5'), { id: 'host-r:5' });
    await t.redis.del(t.keys.lease('brain-poller'));
    await t.redis.hset(t.keys.lease('brain-poller'), { holder: 'host-p:3' });
    await t.redis.set(t.keys.epoch('reconcile'), 'seven');
    const run = await runCli(['status'], { env: env() });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\nbrain\s+host-q:4\s+-\s+-\s+-\s+-\s+-\s+\d+\.\ds\s+not JSON\n/);
    expect(run.stdout).toMatch(
      /\nreconcile\s+host-r:5\s+-\s+-\s+-\s+-\s+-\s+no TTL\s+a hash, not a string\n/,
    );
    expect(run.stdout).toMatch(/\nreconcile\s+host-a:1\s+-\s+\d+\s+\d+ms\s+\d+ms\s+PROBLEM\n/);
    expect(run.stdout).toMatch(/\nbrain-poller\s+-\s+\d+\s+\d+\s+-\s+-\s+PROBLEM\n/);
    expect(run.stdout).toContain(
      `  reconcile: the epoch counter ${t.keys.epoch('reconcile')} holds "seven", not an integer: nobody can take the lease\n`,
    );
    expect(run.stdout).toContain(
      `  brain-poller: the lease ${t.keys.lease('brain-poller')} is a hash, not a string: nobody can lead\n`,
    );
    expect(run.stdout).toContain('run `posguard doctor` for what to do');
  });

  it('nothing new without presence records or leases (one instance per service)', async () => {
    await t.redis.set(t.keys.reconcileHeartbeat, JSON.stringify({ ts_ms: Date.now() }));
    const run = await runCli(['status'], { env: env() });
    expect(run.code).toBe(0);
    expect(run.stdout.trimEnd().split('\n')).toHaveLength(2); // header + BTCUSDT
    const json = await runCli(['status', '--json'], { env: env() });
    expect(JSON.parse(json.stdout)).toMatchObject([{ symbol: 'BTCUSDT' }]);
    const ha = await runCli(['instances', '--json'], { env: env() });
    expect(JSON.parse(ha.stdout)).toBeNull();
    const text = await runCli(['instances'], { env: env() });
    expect(text.stdout).toMatch(/^no presence records and no leases/);
  });
});

describe('posguard doctor: instances and leaders', () => {
  it('PASS with each leader, its epoch and lease age; exit 0', async () => {
    const epochs = await healthy();
    const { code, checks, text } = await doctor();
    expect(code).toBe(0);
    expect(lines(checks)).toEqual([
      ['PASS', 'leader reconcile'],
      ['PASS', 'leader brain-poller'],
      ['PASS', 'instances'],
    ]);
    expect(checks[0]?.message).toMatch(
      new RegExp(
        `^host-a:1 at epoch ${epochs.reconcile} \\(fence ${epochs.reconcile}\\), lease renewed \\d+ ms ago, \\d+ ms left; 2 instances campaign$`,
      ),
    );
    expect(checks[2]?.message).toBe(
      '3 presence records: brain:host-p:3, reconcile:host-a:1, reconcile:host-b:2',
    );
    expect(text).toMatch(/PASS\s+leader reconcile\s+host-a:1 at epoch/);
  });

  it('one PASS line when no instance records or leases exist', async () => {
    const { code, checks } = await doctor();
    expect(code).toBe(0);
    expect(checks).toEqual([
      {
        name: 'instances',
        level: 'PASS',
        message:
          'no presence records and no leases: one instance per service (SPEC §11 not in use)',
      },
    ]);
  });

  it('FAIL (exit 1): no leader while instances campaign for the role', async () => {
    await healthy();
    await t.redis.del(t.keys.lease('reconcile'));
    await presence('reconcile', 'host-a:1', ['reconcile']).write([]);
    const { code, checks } = await doctor();
    expect(code).toBe(1);
    expect(checks[0]).toEqual({
      name: 'leader reconcile',
      level: 'FAIL',
      message:
        'no leader, while 2 instances campaign for it (host-a:1, host-b:2) — fix: a takeover takes about one lease: run again; if it stays, see docs/operations.md#no-leader',
    });
  });

  it('FAIL (exit 1): a lease without expiry, and epoch/fence keys holding garbage — with the fix', async () => {
    const epochs = await healthy();
    await t.redis.persist(t.keys.lease('reconcile'));
    await t.redis.set(t.keys.fence('brain-poller'), 'NaN');
    const { code, checks, text } = await doctor();
    expect(code).toBe(1);
    expect(lines(checks)).toEqual([
      ['FAIL', 'leader reconcile'],
      ['FAIL', 'leader brain-poller'],
      ['PASS', 'instances'],
    ]);
    expect(checks[0]?.message).toBe(
      `the lease ${t.keys.lease('reconcile')} (host-a:1) has no expiry: it was written by hand, and blocks the role until it goes — fix: \`redis-cli DEL ${t.keys.lease('reconcile')}\`; an instance takes the lease within lease/3`,
    );
    const fix = /SET \S+ (\d+)` — an integer above every epoch handed out; never lower it/.exec(
      checks[1]?.message ?? '',
    );
    expect(checks[1]?.message).toContain(
      `the fence ${t.keys.fence('brain-poller')} holds "NaN", not an integer: every write of the role is refused`,
    );
    expect(Number(fix?.[1])).toBeGreaterThan(epochs.poller);
    expect(text).toMatch(/doctor: FAIL/);
  });

  it('WARN (exit 0): a stale claim below the fence, two claimants, a lease naming an instance without presence', async () => {
    // host-b led before and was paused; host-a took over. host-b's record still claims its term.
    const stale = await acquire('reconcile', 'host-b:2');
    await t.redis.del(t.keys.lease('reconcile'));
    const epochs = await healthy();
    await presence('reconcile', 'host-b:2', ['reconcile']).write([
      { role: 'reconcile', epoch: stale },
    ]);
    await t.redis.set(t.keys.lease('brain-poller'), 'ghost:9', 'PX', 60_000);
    const { code, checks } = await doctor();
    expect(code).toBe(0);
    expect(checks.map((c) => [c.level, c.name, c.message.split(' — fix')[0]])).toEqual([
      [
        'WARN',
        'leader reconcile',
        `host-b:2 claims the role at epoch ${stale}, below the fence ${epochs.reconcile}: a stale claim (a paused or fenced leader, or a record not yet rewritten); its writes are refused`,
      ],
      [
        'WARN',
        'leader reconcile',
        `2 instances claim the role (host-a:1@${epochs.reconcile}, host-b:2@${stale})`,
      ],
      [
        'WARN',
        'leader brain-poller',
        'the lease names ghost:9, which has no presence record (an instance without presence records, a record that expired, or a lease written by hand)',
      ],
      [
        'PASS',
        'instances',
        '3 presence records: brain:host-p:3, reconcile:host-a:1, reconcile:host-b:2',
      ],
    ]);
  });

  it('WARN (exit 0): presence records that do not decode', async () => {
    await healthy();
    const bad = t.keys.instance('brain', 'host-q:4');
    await t.redis.set(bad, '{"service":"brain"}', 'PX', 60_000);
    const { code, checks } = await doctor();
    expect(code).toBe(0);
    expect(checks.at(-1)).toEqual({
      name: 'instances',
      level: 'WARN',
      message: `${bad}: id: expected ^[A-Za-z0-9:_.-]{1,128}$ — fix: not written by a posguard instance of this version: \`redis-cli DEL ${bad}\` (a live instance rewrites its record within lease/3)`,
    });
  });
});
