/**
 * The real stack the peer-shape tests run fixture records through: the simulated venue over
 * HTTP/WebSocket, the REAL brain polling it (snapshots, lot sizes, ledger updates, permits)
 * and the REAL reconcile engine, all on the run's Redis under a fresh key prefix. One stack
 * per test; `close()` in afterEach.
 */
import { expect } from 'vitest';
import { type Amount, Decimal, formatAmount } from '../../src/domain/amount.js';
import { type Config, loadConfig } from '../../src/config/config.js';
import { startBrain, type BrainService } from '../../src/brain/service.js';
import { RESULT_GROUP } from '../../src/brain/ledger-updater.js';
import { compareStreamIds } from '../../src/domain/identifiers.js';
import { type Logger, silentLogger } from '../../src/observability/logger.js';
import { API_KEY, API_SECRET, type Rig, startRig } from '../exchange/helpers.js';
import { openTestRedis, type TestRedis } from './redis.js';
import { type ResultExpectation, type StreamRecord, fieldsAt } from './peer-shapes.js';
import { type EngineHarness, makeEngine, metricValue, readEvents } from '../reconcile/harness.js';
import { waitFor } from '../brain/helpers.js';

export const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];
const clock = { nowMs: () => Date.now() };

export interface StackOptions {
  /** Run one engine cycle at start and expect every position's LEDGER_INIT (default true). */
  initLedgers?: boolean;
  /** Symbols the venue leaves out of positionRisk: the brain never writes their snapshot. */
  unpolled?: string[];
  /** The brain's logger (default silent). */
  brainLogger?: Logger;
}

export class PeerStack {
  private constructor(
    readonly t: TestRedis,
    readonly rig: Rig,
    readonly brain: BrainService,
    readonly engine: EngineHarness,
  ) {}

  /** Venue at `positions`, the brain polling it, lot sizes known, the engine's LEDGER_INIT done. */
  static async start(
    positions: Record<string, string>,
    options: StackOptions = {},
  ): Promise<PeerStack> {
    const t = openTestRedis('peer');
    const rig = await startRig({ symbols: SYMBOLS });
    for (const [symbol, amount] of Object.entries(positions))
      rig.venue.control.setPosition(symbol, amount);
    if ((options.unpolled ?? []).length > 0)
      rig.venue.control.addFault({ kind: 'omit_symbols', symbols: options.unpolled });
    const brain = await startBrain({
      config: brainConfig(t, rig),
      logger: options.brainLogger ?? silentLogger(),
      consumer: 'peer-test',
    });
    const engine = makeEngine(t.redis, t.keys, clock, {
      url: t.url,
      env: { P34_ALLOWLIST: SYMBOLS.join(',') },
    });
    const stack = new PeerStack(t, rig, brain, engine);
    for (const symbol of SYMBOLS)
      await waitFor(() => t.redis.hget(t.keys.symbolLotSize(symbol), 'step_size'));
    for (const [symbol, amount] of Object.entries(positions))
      if (!(options.unpolled ?? []).includes(symbol))
        await stack.snapshotShows(symbol, new Decimal(amount), 0);
    if (options.initLedgers ?? true) {
      await engine.engine.runOnce();
      for (const [symbol, amount] of Object.entries(positions))
        expect(await stack.ledgerAmt(symbol), symbol).toEqual(new Decimal(amount));
    }
    return stack;
  }

  async close(): Promise<void> {
    await this.brain.stop();
    await this.rig.venue.close();
    await this.t.close();
  }

  get venue(): Rig['venue'] {
    return this.rig.venue;
  }

  /** The brain has written a snapshot of `amount`, taken after `takenAfterMs`. */
  async snapshotShows(symbol: string, amount: Amount, takenAfterMs: number): Promise<void> {
    const { t } = this;
    await waitFor(async () => {
      const s = await t.redis.hgetall(t.keys.snapshot(symbol));
      if (s.position_amt === undefined) return null;
      return new Decimal(s.position_amt).eq(amount) && Number(s.ts_ms) > takenAfterMs ? true : null;
    });
  }

  /** The venue moves to `amount` and the brain's snapshot shows it. */
  async exchangeAt(symbol: string, amount: string): Promise<void> {
    const at = Date.now();
    this.venue.control.setPosition(symbol, amount);
    await this.snapshotShows(symbol, new Decimal(amount), at);
  }

  async ledgerAmt(symbol: string): Promise<Amount> {
    const raw = await this.t.redis.hget(this.t.keys.ledger(symbol), 'ledger_amt');
    return new Decimal(raw ?? 'NaN');
  }

  /** Adds the record (its time moved to now); returns the entry id and the fields written. */
  async addResult(
    record: StreamRecord,
    overrides: Record<string, string> = {},
  ): Promise<{ id: string; fields: Record<string, string> }> {
    const fields = { ...fieldsAt(record, Date.now()), ...overrides };
    const id = (await this.t.redis.xadd(
      this.t.keys.applyResultStream,
      '*',
      ...Object.entries(fields).flat(),
    )) as string;
    return { id, fields };
  }

  /** The brain's ledger updater has read `id` and holds nothing pending. */
  async handled(id: string): Promise<void> {
    const { t } = this;
    await waitFor(async () => {
      const groups = (await t.redis.xinfo('GROUPS', t.keys.applyResultStream)) as unknown[][];
      for (const g of groups) {
        const info: Record<string, unknown> = {};
        for (let i = 0; i + 1 < g.length; i += 2) info[String(g[i])] = g[i + 1];
        if (info.name !== RESULT_GROUP) continue;
        const last = String(info['last-delivered-id']);
        return compareStreamIds(last, id) >= 0 && Number(info.pending) === 0 ? true : null;
      }
      return null;
    });
  }

  /** A brain counter's value for the given labels (0 when never incremented). */
  async brainCounter(name: string, labels: Record<string, string>): Promise<number> {
    const metric = await this.brain.metrics.registry.getSingleMetric(name)?.get();
    const match = metric?.values.find((v) =>
      Object.entries(labels).every(([k, value]) => String(v.labels[k]) === value),
    );
    return match?.value ?? 0;
  }

  brainBadResults(): Promise<number> {
    return this.brainCounter('p33_bad_input_total', { stream: 'apply.result' });
  }

  engineBadResults(): Promise<number> {
    return metricValue(this.engine.metrics, 'p34_bad_input_total', { stream: 'apply.result' });
  }

  async events(name?: string): Promise<Record<string, string>[]> {
    return (await readEvents(this.t.redis, this.t.keys))
      .map((e) => e.fields)
      .filter((f) => name === undefined || f.event === name);
  }

  autoRepairs(): Promise<Record<string, string>[]> {
    return this.events('AUTO_REPAIR');
  }

  /** The signed move an unconfirmed order stands for: by its side, else toward flat. */
  async orderMove(symbol: string, want: ResultExpectation): Promise<Amount> {
    if (want.kind !== 'unconfirmed_order') throw new Error('not an order');
    const qty = new Decimal(want.qty);
    if (want.sign !== null) return qty.mul(want.sign);
    return (await this.ledgerAmt(symbol)).isNegative() ? qty : qty.neg();
  }

  /**
   * The exchange moves by `move` (a trade the brain did not see as a fill); the engine sees
   * it and must repair from exactly one unconfirmed order. Returns that AUTO_REPAIR event.
   */
  async revealAndRepair(symbol: string, move: Amount): Promise<Record<string, string>> {
    const before = await this.autoRepairs();
    const expected = (await this.ledgerAmt(symbol)).plus(move);
    const revealedAt = Date.now();
    this.venue.control.externalTrade(symbol, formatAmount(move));
    await this.snapshotShows(symbol, expected, revealedAt);
    await this.engine.engine.runOnce();
    const repairs = (await this.autoRepairs()).slice(before.length);
    expect(repairs.map((r) => [r.symbol, r.evidence_kind])).toEqual([
      [symbol, 'unconfirmed_order'],
    ]);
    expect(await this.ledgerAmt(symbol)).toEqual(expected);
    return repairs[0] as Record<string, string>;
  }
}

function brainConfig(t: TestRedis, rig: Rig): Readonly<Config> {
  return loadConfig({
    REDIS_URL: t.url,
    KEY_PREFIX: t.prefix,
    P33_ALLOWLIST: SYMBOLS.join(','),
    P34_ALLOWLIST: SYMBOLS.join(','),
    P33_POLL_SEC: '0.1',
    P33_METRICS_PORT: '0',
    BINANCE_BASE_URL: rig.venue.baseUrl,
    BINANCE_WS_URL: rig.venue.wsUrl,
    BINANCE_API_KEY: API_KEY,
    BINANCE_API_SECRET: API_SECRET,
  });
}
