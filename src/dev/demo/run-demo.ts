/**
 * `posguard demo`: starts the services, the pipeline simulator and the observer, shows
 * the dashboard, runs the scenario, and returns the verdict. Everything it started is
 * stopped on the way out — also when the run is aborted (Ctrl-C).
 */
import { Decimal } from '../../domain/amount.js';
import { decodeLotSize } from '../../domain/lot-size.js';
import type { Clock } from '../../domain/time.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { type WebServer, startWebServer } from '../../web/server.js';
import { webSettings } from '../../web/settings.js';
import { auditOrders, toAudited } from '../pipeline/order-audit.js';
import { type Pipeline, startPipeline } from '../pipeline/pipeline.js';
import { HttpVenuePort } from '../pipeline/venue-port.js';
import { type DashboardModel, redraw, renderDashboard, renderLine } from './dashboard.js';
import { DemoObserver, parseCounter, scrapeMetrics } from './observer.js';
import { DemoOperator } from './operator.js';
import { DEMO_SYMBOLS, buildScenario } from './scenario.js';
import { type DemoServices, startDemoServices } from './services.js';
import { DEMO_TARGETS, DEMO_TIMING, scaleTiming } from './settings.js';
import { type DemoTiming, type StepContext, sleep } from './step-context.js';
import type { ScenarioStep } from './steps-symbol.js';
import { type DemoSummary, type FaultReport, evaluateSummary } from './summary.js';
import { systemClock } from '../../runtime/clock.js';

export interface DemoOptions {
  durationSec: number;
  scenario: string;
  /** Dashboard mode: redraw in place, one line per second, or nothing (--json). */
  display: 'tty' | 'lines' | 'none';
  out: NodeJS.WritableStream;
  logger: Logger;
  redisUrl?: string;
  redisDb?: string;
  /** Replaces the pacing derived from durationSec (tests). */
  timing?: DemoTiming;
  signal?: AbortSignal;
  clock?: Clock;
  /** Keep running in steady state until durationSec after the last step (default true). */
  padToDuration?: boolean;
  /** Serve the status page (`posguard web`) on this port, or any free one if it is taken. */
  web?: { port: number };
  /** Told once, at start, where the page is (the CLI prints it). */
  announce?: (line: string) => void;
}

/** Plans younger than this at the end are not counted as unanswered. */
const ANSWER_GRACE_MS = 3000;

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const clock = options.clock ?? systemClock;
  const steps = buildScenario(options.scenario);
  const timing = options.timing ?? scaleTiming(DEMO_TIMING, options.durationSec);
  const services = await startDemoServices({
    symbols: DEMO_SYMBOLS,
    clock,
    logger: options.logger,
    ...(options.redisUrl === undefined ? {} : { redisUrl: options.redisUrl }),
    ...(options.redisDb === undefined ? {} : { redisDb: options.redisDb }),
  });
  let pipeline: Pipeline | null = null;
  let observer: DemoObserver | null = null;
  let web: WebServer | null = null;
  try {
    pipeline = await startPipeline({
      config: services.config,
      clock,
      logger: options.logger.child({ service: 'sim' }),
      symbols: DEMO_SYMBOLS,
      targets: DEMO_TARGETS,
      ratePerSec: 4,
      governorDenyFraction: 0.05,
      keeperEveryMs: 2000,
      keyspaceNotifications: services.redisMode === 'embedded',
    });
    observer = new DemoObserver({
      reader: services.observerReader,
      redis: services.observerRedis,
      keys: pipeline.keys,
      symbols: DEMO_SYMBOLS,
      logger: options.logger,
      nowMs: () => clock.nowMs(),
    });
    observer.start();
    if (options.web !== undefined) {
      web = await startWebServer({
        settings: webSettings({ port: options.web.port, env: {} }),
        redis: services.config.redis,
        keys: pipeline.keys,
        symbols: DEMO_SYMBOLS,
        logger: options.logger.child({ service: 'web' }),
        clock,
        anyPortIfTaken: true,
      });
      options.announce?.(`web page: ${web.url} (read-only, live while the demo runs)`);
    }
    const webUrl = web?.url ?? null;
    return await runScenario({
      options,
      services,
      pipeline,
      observer,
      steps,
      timing,
      clock,
      webUrl,
    });
  } finally {
    await web?.close().catch(() => undefined);
    await pipeline?.stop().catch(() => undefined);
    await observer?.stop().catch(() => undefined);
    await services.stop();
  }
}

interface RunState {
  options: DemoOptions;
  services: DemoServices;
  pipeline: Pipeline;
  observer: DemoObserver;
  steps: ScenarioStep[];
  timing: DemoTiming;
  clock: Clock;
  webUrl: string | null;
}

async function runScenario(run: RunState): Promise<DemoSummary> {
  const { options, pipeline, steps, timing, clock } = run;
  const startedMs = clock.nowMs();
  const stepState = {
    name: 'warm-up',
    status: 'positions open, the engine initialises the ledgers, plans flow',
  };
  const ctx = stepContext(run, stepState);
  const stopDashboard = startDashboard(run, stepState, startedMs);
  const faults: FaultReport[] = [];
  const skipped: string[] = [];
  try {
    await abortable(sleep(timing.warmupMs), options.signal);
    for (const [index, step] of steps.entries()) {
      const elapsedSec = (clock.nowMs() - startedMs) / 1000;
      if (options.signal?.aborted || elapsedSec >= options.durationSec) {
        skipped.push(step.name);
        continue;
      }
      stepState.name = `${index + 1}/${steps.length} ${step.name}: ${step.title}`;
      stepState.status = 'injecting…';
      faults.push(await abortable(step.run(ctx), options.signal));
      stepState.status = 'done; settling';
      await abortable(sleep(timing.settleMs), options.signal);
    }
    stepState.name = 'steady state';
    stepState.status = 'no fault injected';
    const left =
      options.padToDuration === false ? 0 : startedMs + options.durationSec * 1000 - clock.nowMs();
    if (left > 0) await abortable(sleep(left), options.signal);
  } finally {
    stopDashboard();
  }
  pipeline.planner.stop();
  await sleep(1500);
  return summarize(run, { faults, skipped, startedMs });
}

function stepContext(run: RunState, stepState: { status: string }): StepContext {
  const { services, pipeline, observer, timing, clock } = run;
  return {
    pipeline,
    venue: new HttpVenuePort(services.venue.baseUrl),
    observer,
    operator: new DemoOperator({
      redis: services.observerRedis,
      keys: pipeline.keys,
      clock,
      ledgerTtlSec: services.config.ledger.ledgerTtlSec,
      freshnessSec: services.config.reconcile.exchangeFreshnessSec,
    }),
    engine: services.engine,
    brain: services.brain,
    clock,
    timing,
    symbols: DEMO_SYMBOLS,
    lot: async (symbol) => {
      const lot = decodeLotSize(
        await services.observerRedis.hgetall(pipeline.keys.symbolLotSize(symbol)),
      );
      return lot ?? { stepSize: new Decimal('0.001'), minQty: new Decimal('0.001'), maxQty: null };
    },
    targets: DEMO_TARGETS,
    badInputCounts: async () => {
      const text = await scrapeMetrics(services.brainMetricsUrl);
      return text === null ? null : parseCounter(text, 'p33_bad_input_total');
    },
    status: (text) => {
      stepState.status = text;
      run.options.logger.info({ step: text }, 'demo step');
    },
  };
}

function startDashboard(
  run: RunState,
  stepState: { name: string; status: string },
  startedMs: number,
): () => void {
  const { options, services, pipeline, observer, clock } = run;
  if (options.display === 'none') return () => undefined;
  const header = [
    `Redis: ${services.redisLabel}`,
    `venue ${services.venue.baseUrl} · brain metrics ${services.brainMetricsUrl} · reconcile metrics ${services.reconcileMetricsUrl}`,
    ...(run.webUrl === null ? [] : [`web page ${run.webUrl}`]),
  ];
  if (options.display === 'lines') for (const line of header) options.out.write(`${line}\n`);
  const tick = async (): Promise<void> => {
    await observer.refresh().catch(() => undefined);
    const model: DashboardModel = {
      elapsedSec: (clock.nowMs() - startedMs) / 1000,
      durationSec: options.durationSec,
      step: stepState.name,
      stepStatus: stepState.status,
      views: observer.views(),
      permits: pipeline.book.counts(),
      latency: pipeline.book.latency(),
      events: observer.events.slice(-6),
      orders: {
        close: pipeline.apply.stats.closeOrders,
        open: pipeline.apply.stats.openOrders,
        failed: pipeline.apply.stats.orderErrors,
      },
      header,
    };
    options.out.write(
      options.display === 'tty' ? redraw(renderDashboard(model, true)) : `${renderLine(model)}\n`,
    );
  };
  const timer = setInterval(() => void tick().catch(() => undefined), 1000);
  return () => clearInterval(timer);
}

async function summarize(
  run: RunState,
  result: { faults: FaultReport[]; skipped: string[]; startedMs: number },
): Promise<DemoSummary> {
  const { services, pipeline, observer, clock } = run;
  const log = await new HttpVenuePort(services.venue.baseUrl).orders();
  const now = clock.nowMs();
  return evaluateSummary({
    faults: result.faults,
    skipped: result.skipped,
    permits: pipeline.book.counts(),
    autoRepairs: observer.count('AUTO_REPAIR'),
    orders: auditOrders(log.filter((o) => o.source === 'api').map(toAudited)),
    latency: pipeline.book.latency(),
    plansPublished: pipeline.book.find(() => true).length,
    unansweredPlans: pipeline.book.unanswered(now - ANSWER_GRACE_MS, 0).length,
    durationSec: (now - result.startedMs) / 1000,
    environment: {
      redis: services.redisLabel,
      venue: services.venue.baseUrl,
      latency_probe:
        services.redisMode === 'embedded'
          ? 'keyspace notifications (passive)'
          : 'pipelined GET every 1 ms (resolution ~1 ms)',
    },
  });
}

/** Resolves like `work`, or rejects as soon as the signal aborts. */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(new Error('demo aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error('demo aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(errorMessage(error)));
      },
    );
  });
}
