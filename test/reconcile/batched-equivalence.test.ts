/**
 * The batched cycle (read batches, steady batches, decisions taken as replies arrive)
 * writes exactly what the per-symbol path writes. The reference below is the per-symbol
 * path spelled out: HGETALL of each symbol's hashes, the pure decision, and one
 * `reconcile_commit` call per symbol. Both run the same scenario on twin key prefixes with
 * one clock — mixed OK / HOLD / MANUAL_REQUIRED / DRIFT / init / repair symbols spread
 * over several read batches, changing between cycles — and after every cycle the state
 * hashes, holds, owner markers, ledgers and events of every symbol must be identical.
 * Also: round trips per cycle stay at two however many batches there are.
 */
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { epsilonFor } from '../../src/domain/amount.js';
import { fieldsToRecord, parseApplyResult } from '../../src/domain/apply-result.js';
import { decide } from '../../src/domain/drift.js';
import { EvidenceWindow } from '../../src/domain/evidence.js';
import { decodeLedger } from '../../src/domain/ledger.js';
import { decodeLotSize } from '../../src/domain/lot-size.js';
import { decodeSnapshot } from '../../src/domain/snapshot.js';
import { commitArgs } from '../../src/reconcile/commit.js';
import { READ_BATCH } from '../../src/reconcile/read.js';
import { STEADY_BATCH, isSteady } from '../../src/reconcile/steady.js';
import { type Keys, buildKeys } from '../../src/redis/keys.js';
import { reconcileCommit } from '../../src/redis/scripts/reconcile-commit.js';
import { runScript } from '../../src/redis/scripts/script.js';
import { type TestRedis, openTestRedis } from '../helpers/redis.js';
import {
  DRIFT_CONFIG,
  T0,
  addResult,
  flatResult,
  ledgerFields,
  snapshotFields,
  writeSymbol,
} from './fixtures.js';
import { testTerm } from '../helpers/terms.js';
import { ManualClock, makeEngine, metricValue, readEvents } from './harness.js';

const N = READ_BATCH * 2 + 100; // three read batches, three steady batches
const SYMBOLS = Array.from({ length: N }, (_, i) => `S${String(i).padStart(5, '0')}USDT`);
const sym = (i: number): string => SYMBOLS[i] as string;
const SETTINGS = { holdTtlMs: 300_000, ledgerTtlMs: 86_400_000, evidenceTtlMs: 600_000 };

/** The scenario, written identically under both prefixes. */
async function seed(redis: Redis, keys: Keys): Promise<void> {
  const pipeline = redis.pipeline();
  SYMBOLS.forEach((s, i) => {
    const special: Record<number, [string | null, string | null]> = {
      3: ['0.062', '0.05'], // qty mismatch, no evidence → HOLD
      499: ['0.062', '-0.062'], // side mismatch → MANUAL_REQUIRED (last of batch 1)
      500: ['0.062', null], // no ledger → LEDGER_INIT (first of batch 2)
      501: [null, '0.062'], // no snapshot → HOLD missing_exchange
      777: ['0.1', '0.101'], // repaired on evidence
      1099: ['0.062', '0.062'], // ledger made invalid below
    };
    const [ex, led] = special[i] ?? ['0.062', '0.062'];
    const takenMs = i === 20 ? T0 - 8_000 : T0 - 500; // symbol 20 goes stale after a few cycles
    if (ex !== null) pipeline.hset(keys.snapshot(s), snapshotFields(ex, takenMs));
    if (led !== null) pipeline.hset(keys.ledger(s), ledgerFields(led, T0 - 60_000));
    pipeline.hset(keys.symbolLotSize(s), { step_size: '0.001', min_qty: '0.001', max_qty: '' });
  });
  // Row 7: a ledger written after the snapshot → DRIFT awaiting_snapshot.
  pipeline.hset(keys.ledger(sym(900)), ledgerFields('0.063', T0 - 200));
  pipeline.hset(keys.ledger(sym(1099)), 'ledger_amt', 'abc');
  pipeline.set(keys.hold(sym(1000)), 'operator', 'PX', 600_000); // a foreign hold on an OK symbol
  await pipeline.exec();
  await addResult(redis, keys, `${T0 - 5000}-0`, flatResult(sym(777), 'SELL', '0.001', T0 - 5000));
}

/** Changes between cycles, applied to both prefixes. */
async function mutate(redis: Redis, keys: Keys, cycle: number, nowMs: number): Promise<void> {
  if (cycle === 2) {
    await writeSymbol(redis, keys, sym(3), { ledger: ledgerFields('0.062', nowMs - 5000) }); // fixed
    await redis.del(keys.hold(sym(499))); // an operator drops an engine hold: set again
  }
  if (cycle === 3) {
    await writeSymbol(redis, keys, sym(42), { ledger: ledgerFields('0.07', nowMs - 20_000) });
    await writeSymbol(redis, keys, sym(501), { snapshot: snapshotFields('0.062', nowMs - 300) });
  }
}

/** The per-symbol path: plain reads, the pure decision, one commit script per symbol. */
class Reference {
  private readonly used = new Set<string>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    /** Its own reconcile term, under its own prefix (SPEC §11: every commit is fenced). */
    private readonly epoch: number,
  ) {}

  async cycle(nowMs: number): Promise<void> {
    const window = new EvidenceWindow(new Set(SYMBOLS));
    for (const [id, flat] of await this.redis.xrange(this.keys.applyResultStream, '-', '+')) {
      const parsed = parseApplyResult(id, fieldsToRecord(flat));
      if (parsed.kind === 'fill') window.add(parsed.fill);
    }
    for (const s of SYMBOLS) {
      const [snapshot, ledger, lot] = await Promise.all([
        this.redis.hgetall(this.keys.snapshot(s)),
        this.redis.hgetall(this.keys.ledger(s)),
        this.redis.hgetall(this.keys.symbolLotSize(s)),
      ]);
      const lotSize = decodeLotSize(lot);
      const d = decide({
        symbol: s,
        snapshot: decodeSnapshot(snapshot),
        ledger: decodeLedger(ledger, epsilonFor(lotSize?.stepSize)),
        lotSize,
        evidence: window.fillsFor(s),
        usedEvidence: this.used,
        nowMs,
        config: DRIFT_CONFIG,
      });
      const reply = await runScript(this.redis, reconcileCommit, {
        ...commitArgs(this.keys, d, ledger, { nowMs, ...SETTINGS }),
        epoch: this.epoch,
      });
      if ('code' in reply && reply.code === 'ok' && d.action === 'auto_repair')
        for (const id of d.evidence?.entryIds ?? []) this.used.add(id);
    }
  }
}

interface SymbolView {
  state: Record<string, string>;
  ledger: Record<string, string>;
  hold: string | null;
  holdLive: boolean;
  owner: string | null;
  events: Record<string, string>[];
}

async function view(redis: Redis, keys: Keys): Promise<Map<string, SymbolView>> {
  const events = await readEvents(redis, keys);
  const out = new Map<string, SymbolView>();
  for (const s of SYMBOLS) {
    const [state, ledger, hold, pttl, owner, expireAt] = await Promise.all([
      redis.hgetall(keys.reconcileState(s)),
      redis.hgetall(keys.ledger(s)),
      redis.get(keys.hold(s)),
      redis.pttl(keys.hold(s)),
      redis.get(keys.holdOwner(s)),
      redis.call('PEXPIRETIME', keys.hold(s)),
    ]);
    out.set(s, {
      state,
      ledger,
      hold,
      holdLive: pttl > 0,
      // The engine's marker records its hold's exact expiry (Redis time, so it differs between
      // the two runs): compare whether it matches, not the number.
      owner: owner === `p34:${String(expireAt)}` ? 'p34:<its hold expiry>' : owner,
      events: events.filter((e) => e.fields.symbol === s).map((e) => e.fields),
    });
  }
  return out;
}

describe('batched cycle ≡ per-symbol path', () => {
  let a: TestRedis;
  let bKeys: Keys;

  beforeEach(() => {
    a = openTestRedis('eqa');
    bKeys = buildKeys(`${a.prefix}ref`);
  });
  afterEach(() => a.close());

  it('same state hashes, holds, ledgers and events over six cycles of a changing mix', async () => {
    await seed(a.redis, a.keys);
    await seed(a.redis, bKeys);
    const clock = new ManualClock(T0);
    const h = makeEngine(a.redis, a.keys, clock, {
      url: a.url,
      env: { P34_ALLOWLIST: SYMBOLS.join(',') },
    });
    const refTerm = await testTerm(a.redis, bKeys, 'reconcile', 'reference');
    const reference = new Reference(a.redis, bKeys, refTerm.acquiredEpoch);
    const statuses = new Set<string>();
    for (let cycle = 1; cycle <= 6; cycle += 1) {
      clock.advance(1000);
      await mutate(a.redis, a.keys, cycle, clock.ms);
      await mutate(a.redis, bKeys, cycle, clock.ms);
      const report = await h.engine.runOnce();
      await reference.cycle(clock.ms);
      for (const o of report.outcomes) {
        statuses.add(`${o.decision.status}/${o.decision.reason}`);
        expect(o.commit?.code, o.decision.symbol).toBe('ok');
      }
      const [batched, expected] = await Promise.all([view(a.redis, a.keys), view(a.redis, bKeys)]);
      for (const s of SYMBOLS)
        expect(batched.get(s), `${s} after cycle ${cycle}`).toEqual(expected.get(s));
    }
    // The mix really was mixed.
    expect([...statuses].sort()).toEqual(
      [
        'DRIFT/awaiting_snapshot',
        'HOLD/missing_exchange',
        'HOLD/qty_mismatch_no_evidence',
        'HOLD/stale_exchange',
        'MANUAL_REQUIRED/ledger_invalid',
        'MANUAL_REQUIRED/side_mismatch',
        'OK/',
        'OK/ledger_init',
        'REPAIRED/auto_fixed',
      ].sort(),
    );
    const last = await view(a.redis, a.keys);
    // The dropped hold is set again: counted, not a second HOLD_SET (one per episode).
    expect(last.get(sym(499))?.events.map((e) => e.event)).toEqual(['HOLD_SET', 'MANUAL_REQUIRED']);
    expect(last.get(sym(499))?.hold).toBe('1');
    expect(await metricValue(h.metrics, 'p34_hold_lost_total', { symbol: sym(499) })).toBe(1);
    expect(last.get(sym(3))?.events.map((e) => e.event)).toEqual(['HOLD_SET', 'HOLD_CLEARED']);
    expect(last.get(sym(1000))).toMatchObject({ hold: 'operator', owner: null });
    expect(last.get(sym(5))?.state).toMatchObject({ status: 'OK', ts_ms: String(clock.ms) });
  });

  it('round trips per cycle stay at two (read pipeline, write pipeline) across batches', async () => {
    await seed(a.redis, a.keys);
    const clock = new ManualClock(T0);
    const h = makeEngine(a.redis, a.keys, clock, {
      url: a.url,
      env: { P34_ALLOWLIST: SYMBOLS.join(',') },
    });
    await h.engine.runOnce(); // first cycle: script loading and the evidence rebuild
    const stream = (a.redis as unknown as { stream: { write: (...args: unknown[]) => boolean } })
      .stream;
    const client = a.redis as unknown as { sendCommand: (...args: unknown[]) => unknown };
    const write = stream.write;
    const send = client.sendCommand;
    let writes = 0;
    let commands = 0;
    stream.write = function (this: unknown, ...args: unknown[]) {
      writes += 1;
      return write.apply(this, args);
    };
    client.sendCommand = function (this: unknown, ...args: unknown[]) {
      commands += 1;
      return send.apply(this, args);
    };
    try {
      for (let cycle = 0; cycle < 3; cycle += 1) {
        writes = 0;
        commands = 0;
        clock.advance(1000);
        const report = await h.engine.runOnce();
        const steady = report.outcomes.filter((o) => isSteady(o.decision, o.reads)).length;
        expect(steady).toBeGreaterThan(N - 20);
        expect(writes).toBe(2);
        // poll + read batches + steady batches + one commit per other symbol + heartbeat
        expect(commands).toBe(
          1 + Math.ceil(N / READ_BATCH) + Math.ceil(steady / STEADY_BATCH) + (N - steady) + 1,
        );
      }
    } finally {
      stream.write = write;
      client.sendCommand = send;
    }
  });
});
