/**
 * `posguard reconcile --once / --dry-run` through the command function, against the seed's
 * documented examples: what an operator sees on stdout, in the state hash and the events.
 */
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runReconcileCommand } from '../../src/cli/commands/reconcile.js';
import { silentLogger } from '../../src/observability/logger.js';
import { takeSoleTerm } from '../../src/redis/ha/sole-term.js';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import { testTerm } from '../helpers/terms.js';
import { T0, ledgerFields, snapshotFields, writeSymbol, writeRepairableDrift } from './fixtures.js';
import { ManualClock, readEvents } from './harness.js';

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/** Every key under the prefix with its type, serialized value and whether it expires. */
async function dumpKeys(redis: Redis, prefix: string): Promise<Map<string, string>> {
  const keys = (await redis.keys(`${prefix}:*`)).sort();
  const out = new Map<string, string>();
  for (const key of keys) {
    const dump = await redis.dumpBuffer(key);
    const pttl = await redis.pttl(key);
    out.set(key, `${dump?.toString('base64') ?? ''}|${pttl >= 0 ? 'expires' : pttl}`);
  }
  return out;
}

describe('posguard reconcile (command)', () => {
  let t: TestRedis;
  beforeEach(() => {
    t = openTestRedis('rcli');
  });
  afterEach(() => t.close());

  async function seedExamples(): Promise<void> {
    // The seed's examples: BTCUSDT 0.062 LONG on both sides; ETHUSDT without a ledger;
    // SOLUSDT exchange LONG vs ledger SHORT. XRPUSDT has a repairable drift.
    await writeSymbol(t.redis, t.keys, 'BTCUSDT', {
      snapshot: snapshotFields('0.062', T0 - 1000),
      ledger: ledgerFields('0.062', T0 - 60_000),
    });
    await writeSymbol(t.redis, t.keys, 'ETHUSDT', { snapshot: snapshotFields('1.5', T0 - 1000) });
    await writeSymbol(t.redis, t.keys, 'SOLUSDT', {
      snapshot: snapshotFields('12', T0 - 1000),
      ledger: ledgerFields('-12', T0 - 60_000),
    });
    await writeRepairableDrift(t.redis, t.keys, 'XRPUSDT', {
      snapshotMs: T0 - 1000,
      fillMs: T0 - 5000,
    });
  }

  function io(out: Writable, err: Writable) {
    return {
      stdout: out,
      stderr: err,
      env: {
        REDIS_URL: t.url,
        KEY_PREFIX: t.prefix,
        P34_ALLOWLIST: 'BTCUSDT,ETHUSDT,SOLUSDT,XRPUSDT',
      },
      clock: new ManualClock(T0),
      logger: silentLogger(),
    };
  }

  it('--dry-run prints every decision and writes nothing', async () => {
    await seedExamples();
    await t.redis.setex(t.keys.hold('BTCUSDT'), 600, '1');
    const before = await dumpKeys(t.redis, t.prefix);
    const out = sink();
    const err = sink();
    expect(await runReconcileCommand({ dryRun: true }, io(out.stream, err.stream))).toBe(0);
    const after = await dumpKeys(t.redis, t.prefix);
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [key, value] of before) expect(after.get(key), key).toBe(value);
    const lines = out.text().trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^SYMBOL\s+STATUS\s+REASON\s+EXCHANGE\s+LEDGER\s+DIFF\s+DIFF%\s+AGE_S\s+ACTION$/,
    );
    expect(lines).toHaveLength(5);
    const row = (sym: string) => lines.find((l) => l.startsWith(sym))?.split(/\s{2,}/);
    expect(row('BTCUSDT')).toEqual([
      'BTCUSDT',
      'OK',
      '-',
      '0.062',
      '0.062',
      '0',
      '0',
      '1.0',
      'leave foreign hold',
    ]);
    expect(row('ETHUSDT')).toEqual([
      'ETHUSDT',
      'OK',
      'ledger_init',
      '1.5',
      '-',
      '-',
      '-',
      '1.0',
      'init ledger',
    ]);
    expect(row('SOLUSDT')).toEqual([
      'SOLUSDT',
      'MANUAL_REQUIRED',
      'side_mismatch',
      '12',
      '-12',
      '24',
      '200',
      '1.0',
      'set hold',
    ]);
    expect(row('XRPUSDT')).toEqual([
      'XRPUSDT',
      'REPAIRED',
      'auto_fixed',
      '0.1',
      '0.101',
      '-0.001',
      '0.9901',
      '1.0',
      'repair ledger',
    ]);
    // Columns are aligned: every row starts its STATUS column at the same offset.
    const statusAt = lines[0]!.indexOf('STATUS');
    for (const line of lines.slice(1))
      expect(line.slice(statusAt)).toMatch(/^(OK|MANUAL_REQUIRED|REPAIRED)\s/);
    expect(err.text()).toBe('');
  });

  it('--dry-run --json prints the same decisions as JSON', async () => {
    await seedExamples();
    const out = sink();
    expect(
      await runReconcileCommand({ dryRun: true, json: true }, io(out.stream, sink().stream)),
    ).toBe(0);
    const doc = JSON.parse(out.text()) as { dry_run: boolean; symbols: Record<string, string>[] };
    expect(doc.dry_run).toBe(true);
    expect(doc.symbols.map((s) => `${s.symbol}:${s.status}:${s.reason}`)).toEqual([
      'BTCUSDT:OK:-',
      'ETHUSDT:OK:ledger_init',
      'SOLUSDT:MANUAL_REQUIRED:side_mismatch',
      'XRPUSDT:REPAIRED:auto_fixed',
    ]);
    expect(await t.redis.exists(t.keys.reconcileState('BTCUSDT'))).toBe(0);
  });

  it('--once writes the seed state fields and events, then exits 0', async () => {
    await seedExamples();
    const out = sink();
    expect(await runReconcileCommand({ once: true }, io(out.stream, sink().stream))).toBe(0);
    const btc = await t.redis.hgetall(t.keys.reconcileState('BTCUSDT'));
    expect(btc).toMatchObject({
      status: 'OK',
      reason: '',
      exchange_amt: '0.062',
      ledger_amt: '0.062',
      diff_amt: '0',
      diff_pct: '0',
      last_seen_ts: String(T0 / 1000),
    });
    for (const field of [
      'status',
      'reason',
      'exchange_amt',
      'ledger_amt',
      'diff_amt',
      'diff_pct',
      'last_seen_ts',
      'exchange_side',
      'ledger_side',
      'snapshot_age_sec',
      'since_ts',
      'hold_by',
    ]) {
      expect(btc, field).toHaveProperty(field);
    }
    expect(await t.redis.hgetall(t.keys.ledger('ETHUSDT'))).toMatchObject({
      ledger_amt: '1.5',
      ledger_side: 'LONG',
      source: 'p34_init',
      version: '1',
    });
    expect(await t.redis.hgetall(t.keys.reconcileState('SOLUSDT'))).toMatchObject({
      status: 'MANUAL_REQUIRED',
      reason: 'side_mismatch',
      hold_by: 'p34',
    });
    expect(await t.redis.get(t.keys.hold('SOLUSDT'))).toBe('1');
    expect(await t.redis.hgetall(t.keys.ledger('XRPUSDT'))).toMatchObject({
      ledger_amt: '0.1',
      source: 'p34_auto',
    });
    const events = (await readEvents(t.redis, t.keys)).map(
      (e) => `${e.fields.symbol}:${e.fields.event}`,
    );
    expect(events.sort()).toEqual([
      'ETHUSDT:LEDGER_INIT',
      'SOLUSDT:HOLD_SET',
      'SOLUSDT:MANUAL_REQUIRED',
      'XRPUSDT:AUTO_REPAIR',
    ]);
    expect(out.text()).toMatch(/^SOLUSDT\s+MANUAL_REQUIRED\s+side_mismatch\s.*set hold$/m);
    expect(await t.redis.exists(t.keys.reconcileHeartbeat)).toBe(1);
  });

  it('--once exits 1 and names the key when a symbol is refused for a key of the wrong type', async () => {
    await seedExamples();
    await t.redis.rpush(t.keys.holdOwner('SOLUSDT'), 'not a marker'); // a bypass script
    const out = sink();
    expect(await runReconcileCommand({ once: true }, io(out.stream, sink().stream))).toBe(1);
    expect(out.text()).toMatch(
      new RegExp(`^SOLUSDT\\s.*\\[error: ${t.keys.holdOwner('SOLUSDT')} is a list`, 'm'),
    );
    expect(await t.redis.exists(t.keys.hold('SOLUSDT'))).toBe(0); // nothing written for it
    const beat = JSON.parse((await t.redis.get(t.keys.reconcileHeartbeat)) ?? '{}') as {
      failing_symbols?: string[];
    };
    expect(beat.failing_symbols).toEqual(['SOLUSDT']);
  });

  it('--once writes as the reconcile leader: takes the lease (a new epoch), names itself and the epoch in the heartbeat, releases the lease', async () => {
    await seedExamples();
    const before = await testTerm(t.redis, t.keys, 'reconcile', 'earlier');
    await before.release();
    expect(await runReconcileCommand({ once: true }, io(sink().stream, sink().stream))).toBe(0);
    const beat = JSON.parse((await t.redis.get(t.keys.reconcileHeartbeat)) ?? '{}') as {
      instance?: string;
      epoch?: number;
    };
    expect(beat.instance).toMatch(new RegExp(`^cli-once:[A-Za-z0-9_.-]+:${process.pid}$`));
    expect(beat.epoch).toBeGreaterThan(before.acquiredEpoch);
    expect(await t.redis.get(t.keys.fence('reconcile'))).toBe(String(beat.epoch));
    expect(await t.redis.exists(t.keys.lease('reconcile'))).toBe(0); // released
  });

  it('--once while another instance holds the lease: refused (exit 1) naming the holder and its TTL, nothing written; --dry-run still runs', async () => {
    await seedExamples();
    await takeSoleTerm({
      redis: t.redis,
      keys: t.keys,
      role: 'reconcile',
      instanceId: 'host-b:4242',
      leaseMs: 60_000,
    });
    const before = await dumpKeys(t.redis, t.prefix);
    const err = sink();
    const out = sink();
    expect(await runReconcileCommand({ once: true }, io(out.stream, err.stream))).toBe(1);
    expect(err.text()).toMatch(
      /^posguard reconcile: refusing to write: the reconcile lease is held by host-b:4242 \(expires in \d+\.\d s unless renewed\).*--dry-run/m,
    );
    expect(out.text()).toBe('');
    const after = await dumpKeys(t.redis, t.prefix);
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [key, value] of before) expect(after.get(key), key).toBe(value);
    expect(await runReconcileCommand({ dryRun: true }, io(sink().stream, sink().stream))).toBe(0);
    // A lease without expiry is named as such, with the key to delete.
    await t.redis.persist(t.keys.lease('reconcile'));
    const stuck = sink();
    expect(await runReconcileCommand({ once: true }, io(sink().stream, stuck.stream))).toBe(1);
    expect(stuck.text()).toContain(
      `held by host-b:4242 (no expiry: delete ${t.keys.lease('reconcile')} if host-b:4242 is not running)`,
    );
  });

  it('--once exits 1 with a clear message when Redis is unreachable', async () => {
    const err = sink();
    const code = await runReconcileCommand(
      { once: true },
      {
        stdout: sink().stream,
        stderr: err.stream,
        env: { REDIS_URL: 'redis://127.0.0.1:1', KEY_PREFIX: t.prefix },
        clock: new ManualClock(T0),
        logger: silentLogger(),
      },
    );
    expect(code).toBe(1);
    expect(err.text()).toContain('cannot reach Redis at redis://127.0.0.1:1');
  });
});
