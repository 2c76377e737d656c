/**
 * Figure: Sentinel failover under load (issue 12, SPEC §11) at REDIS_MIN_REPLICAS_ACK = 0 and
 * = 1 — how long until permits flow again, and what a failover cost: plans the gate answered
 * ALLOW twice, plans executed twice, fills lost or applied twice, ledgers against the venue.
 *
 * Set-up (src/dev/ha-load.ts, shared with `posguard demo --scenario ha`): a private Sentinel
 * set-up (master, replica, three sentinels), two brains and two engines of the built CLI,
 * the simulated venue, and in this process the simulated pipeline: the planner at
 * HA_FAILOVER_RATE plans/s (default 500) with a Governor permit each, the Apply Layer
 * consuming every plan through the gate and trading what it allows, the position keeper
 * refilling every 250 ms. Every part runs at the same N: the brains WAIT before acking plans,
 * the gate WAITs after a consume (`not_replicated` otherwise), and at N ≥ 1 the Apply
 * Layer's result writes count only once a replica has them (src/dev/pipeline/
 * replicated-result.ts). P33_COOLDOWN_SEC 0.2 (allowed closes of a symbol at most 5/s), poll
 * 0.1 s, cadence 0.2 s, lease 3000 ms.
 *
 * Per N: warm-up, then HA_FAILOVER_COUNT failovers (default 5, quick 1), each `SENTINEL
 * FAILOVER` of the current master, 8 s apart at least. Per failover: the time until the
 * sentinels agree on the new master and the old one replicates it; until each role's lease is
 * held again on the new master under a higher fence; until the first ALLOW is consumed through
 * the gate on the new master for a plan published after the failover began ("permits flow
 * again"). A symbol the engine then holds `qty_mismatch_no_evidence` (a fill the failover
 * lost) is adopted by the operator (`ledger adopt`), counted — so the next failover starts
 * from a clean state.
 *
 * End of each N (ha-audit.ts): the load stops, the ledgers get 20 s to settle, then — plans
 * the gate answered `ok` more than once; plans with more than one order in the venue's order
 * log; filled orders without a result entry on the surviving master, entries never applied,
 * fills applied twice; each ledger against the venue.
 *
 * Env: HA_FAILOVER_RATE, HA_FAILOVER_COUNT.
 */
import { Decimal } from '../../src/domain/amount.js';
import { DemoOperator } from '../../src/dev/demo/operator.js';
import { auditFailures } from '../../src/dev/ha-audit.js';
import { type HaLoad, startHaLoad } from '../../src/dev/ha-load.js';
import { systemClock } from '../../src/runtime/clock.js';
import { benchLogger } from '../bench-logger.js';
import type { HaBenchOptions } from './run.js';
import { envInteger, loadNow, msSummary, sleep } from './common.js';

const TARGETS = new Map([
  ['BTCUSDT', new Decimal('0.05')],
  ['ETHUSDT', new Decimal('-1.2')],
]);
const WARMUP_MS = 6000;
const BETWEEN_MS = 8000;
const FLOW_TIMEOUT_MS = 30_000;
const SETTLE_END_MS = 20_000;

export interface FailoverRound {
  oldMaster: number;
  newMaster: number;
  /** FAILOVER sent → the sentinels agree on the new master and the old one replicates it. */
  switchMs: number;
  /** SENTINEL FAILOVER requests it took (a failover that did not complete is asked again). */
  attempts: number;
  problems: string[];
  /** FAILOVER sent → the role's lease held again on the new master under a higher fence. */
  reconcileReelectedMs: number | null;
  pollerReelectedMs: number | null;
  /** FAILOVER sent → the first ALLOW consumed through the gate on the new master (null: not within 30 s). */
  flowAgainMs: number | null;
  /** FAILOVER sent → the first plan answered by a brain on the new master (ALLOW or a deny with its reason). */
  answeredAgainMs: number | null;
  /** Symbols the operator adopted afterwards (held qty_mismatch_no_evidence). */
  adopted: string[];
}

async function heldWithoutEvidence(load: HaLoad): Promise<string[]> {
  const held: string[] = [];
  for (const symbol of load.symbols) {
    const reason = await load.cluster.redis
      .hget(load.keys.reconcileState(symbol), 'reason')
      .catch(() => null);
    if (reason === 'qty_mismatch_no_evidence') held.push(symbol);
  }
  return held;
}

async function failoverRound(load: HaLoad, operator: DemoOperator): Promise<FailoverRound> {
  const before = {
    reconcile: (await load.term('reconcile')).epoch,
    poller: (await load.term('brain-poller')).epoch,
  };
  const oldMaster = await load.masterPort();
  const t0 = Date.now();
  // Watched from the moment FAILOVER is sent: the other data node is the new master.
  const onNew = (port: number | null): boolean => port !== null && port !== oldMaster;
  const watching = Promise.all([
    load.flowAfter(t0, FLOW_TIMEOUT_MS, onNew),
    load.answeredAfter(t0, FLOW_TIMEOUT_MS, onNew),
    load.newTerm('reconcile', { above: before.reconcile, timeoutMs: FLOW_TIMEOUT_MS }),
    load.newTerm('brain-poller', { above: before.poller, timeoutMs: FLOW_TIMEOUT_MS }),
  ]);
  const next = await load.failover();
  const switchMs = Date.now() - t0;
  const [flow, answered, reconcile, poller] = await watching;
  // Let the engine look at every symbol on the new master before judging it stuck.
  await sleep(Math.max(0, t0 + BETWEEN_MS - Date.now()));
  const adopted: string[] = [];
  for (const symbol of await heldWithoutEvidence(load)) {
    try {
      await operator.adopt(symbol, `bench: a fill lost in failover at ${t0}`);
      adopted.push(symbol);
    } catch {
      // refused (e.g. no fresh snapshot yet): still held; the audit shows it
    }
  }
  return {
    oldMaster,
    newMaster: next.port,
    switchMs,
    attempts: next.attempts,
    problems: next.problems,
    reconcileReelectedMs: reconcile === null ? null : reconcile.atMs - t0,
    pollerReelectedMs: poller === null ? null : poller.atMs - t0,
    flowAgainMs: flow === null ? null : flow.atMs - t0,
    answeredAgainMs: answered === null ? null : answered.atMs - t0,
    adopted,
  };
}

async function runAt(
  minReplicasAck: number,
  count: number,
  rate: number,
  progress: (message: string) => void,
): Promise<Record<string, unknown>> {
  const load = await startHaLoad({
    logger: benchLogger(`bench-failover-${minReplicasAck}`),
    minReplicasAck,
    ratePerSec: rate,
    targets: TARGETS,
    keeperEveryMs: 250,
    leaseMs: 3000,
    cadenceSec: 0.2,
    pollSec: 0.1,
    cooldownSec: 0.2,
    governorDenyFraction: 0,
    progress: (m) => progress(`N=${minReplicasAck}: ${m}`),
  });
  try {
    const operator = new DemoOperator({
      redis: load.cluster.redis,
      keys: load.keys,
      clock: systemClock,
      ledgerTtlSec: load.config.ledger.ledgerTtlSec,
      freshnessSec: load.config.reconcile.exchangeFreshnessSec,
      name: 'bench-failover',
    });
    const loadStart = Date.now();
    await sleep(WARMUP_MS);
    const warmPlans = load.pipeline.book.find(() => true).length;
    const warmRate = warmPlans / ((Date.now() - loadStart) / 1000);
    progress(`N=${minReplicasAck}: warm-up done, ${warmRate.toFixed(0)} plans/s published`);
    const rounds: FailoverRound[] = [];
    for (let i = 0; i < count; i += 1) {
      const round = await failoverRound(load, operator);
      rounds.push(round);
      progress(
        `N=${minReplicasAck}: failover ${i + 1}/${count} :${round.oldMaster} → :${round.newMaster}: ` +
          `switch ${round.switchMs} ms, permits flow again after ${round.flowAgainMs ?? '—'} ms` +
          (round.adopted.length > 0 ? `, adopted ${round.adopted.join(', ')}` : ''),
      );
    }
    const loadSeconds = (Date.now() - loadStart) / 1000;
    const plans = load.pipeline.book.find(() => true).length;
    const gate = load.gateCounts();
    const stats = { ...load.pipeline.apply.stats };
    const loadavg = loadNow();
    const audit = await load.finish(SETTLE_END_MS);
    const flows = rounds.map((r) => r.flowAgainMs);
    const measured = flows.filter((f): f is number => f !== null);
    const gateAnswers = Object.values(gate).reduce((a, b) => a + b, 0);
    const result = {
      minReplicasAck,
      failovers: rounds.length,
      load: {
        targetPlansPerSec: rate,
        publishedPlansPerSec: Math.round((plans / loadSeconds) * 10) / 10,
        plans,
        seconds: Math.round(loadSeconds * 10) / 10,
        gateAnswers,
        // A plan the brains had not answered when the gate's 1200 ms wait ended.
        unansweredAtGate: gate['missing_or_denied_p33_permit:missing'] ?? 0,
        gate,
        loadavg,
      },
      flowAgainMs: {
        summary: msSummary(measured),
        notWithin30s: flows.length - measured.length,
        each: flows,
      },
      answeredAgainMs: msSummary(
        rounds.flatMap((r) => (r.answeredAgainMs === null ? [] : [r.answeredAgainMs])),
      ),
      switchMs: msSummary(rounds.map((r) => r.switchMs)),
      reelectedMs: {
        reconcile: msSummary(
          rounds.flatMap((r) => (r.reconcileReelectedMs === null ? [] : [r.reconcileReelectedMs])),
        ),
        brainPoller: msSummary(
          rounds.flatMap((r) => (r.pollerReelectedMs === null ? [] : [r.pollerReelectedMs])),
        ),
      },
      plansWithTwoAllows: audit.plansWithTwoAllows.length,
      plansExecutedTwice: audit.plansWithTwoOrders.length,
      fillsLost: audit.resultsLost.length + audit.fillsNotApplied.length,
      fillsAppliedTwice: audit.fillsAppliedTwice.length,
      resultEntriesDuplicated: audit.resultsDuplicated.length,
      operatorAdopts: rounds.reduce((n, r) => n + r.adopted.length, 0),
      ledgersEqualVenue: audit.symbols.every((s) => s.equal),
      symbols: audit.symbols,
      orders: {
        filled: audit.ordersFilled,
        rejectedByVenue: audit.ordersRejected,
        resultsRewrittenAfterFailover: stats.resultsRewritten,
        resultsUnconfirmed: stats.resultsUnconfirmed,
      },
      failures: auditFailures(audit),
      examples: {
        plansWithTwoAllows: audit.plansWithTwoAllows.slice(0, 5),
        plansExecutedTwice: audit.plansWithTwoOrders.slice(0, 5),
        resultsLost: audit.resultsLost.slice(0, 5),
      },
      rounds,
    };
    progress(
      `N=${minReplicasAck}: ${result.load.publishedPlansPerSec} plans/s; flow again median ` +
        `${result.flowAgainMs.summary?.p50 ?? '—'} ms, max ${result.flowAgainMs.summary?.max ?? '—'} ms; ` +
        `two ALLOWs ${result.plansWithTwoAllows}, executed twice ${result.plansExecutedTwice}, ` +
        `fills lost ${result.fillsLost}, applied twice ${result.fillsAppliedTwice}, adopts ${result.operatorAdopts}, ` +
        `ledgers = venue ${result.ledgersEqualVenue}`,
    );
    return result;
  } finally {
    await load.stop();
  }
}

export async function run(options: HaBenchOptions): Promise<Record<string, unknown>> {
  const count = options.quick ? 1 : envInteger('HA_FAILOVER_COUNT', 5);
  const rate = envInteger('HA_FAILOVER_RATE', 500);
  const runs: Record<string, unknown>[] = [];
  for (const n of [0, 1]) runs.push(await runAt(n, count, rate, (m) => options.progress(m)));
  return {
    setup:
      'private Sentinel set-up (master, replica, 3 sentinels), 2 brains + 2 engines (built CLI), ' +
      'simulated venue; planner + Governor stub + Apply Layer (gate) + position keeper in the bench process; ' +
      'lease 3000 ms, poll 0.1 s, cadence 0.2 s, P33_COOLDOWN_SEC 0.2',
    failoversPerRun: count,
    targetPlansPerSec: rate,
    runs,
  };
}
