/**
 * The generated section of docs/performance.md: one table per figure, each against its
 * target and its floor. Pure: results in, markdown out.
 */
import type { BenchResults, ScenarioName } from './report.js';
import type { DetectionMode } from './scenarios/detection.js';
import type { FillRefreshResult } from './scenarios/fill-refresh.js';
import type { LedgerResult } from './scenarios/ledger-updates.js';
import type { MemoryResult } from './scenarios/memory.js';
import type { PlanPermitResult } from './scenarios/plan-permit.js';
import type { ReconcileSizeResult } from './scenarios/reconcile-cycle.js';
import type { SnapshotPollResult } from './scenarios/snapshot-poll.js';
import type { Summary } from './stats.js';
import { webTable } from './web-table.js';

const ms = (v: number | null | undefined, digits = 2): string =>
  v === null || v === undefined ? '–' : v.toFixed(digits);
const x = (v: number | null | undefined): string =>
  v === null || v === undefined ? '–' : `${v.toFixed(2)}×`;
const verdict = (met: boolean | null | undefined): string =>
  met === true ? '**met**' : met === false ? '**missed**' : 'n/a';
const spread = (s: Summary | null): string => (s === null ? '–' : `${ms(s.min)} / ${ms(s.max)}`);

function row(cells: (string | number)[]): string {
  return `| ${cells.join(' | ')} |`;
}

function table(head: string[], rows: (string | number)[][]): string {
  return [row(head), row(head.map(() => '---')), ...rows.map(row)].join('\n');
}

function planPermit(r: PlanPermitResult): string {
  const rows = r.runs.map((run) => {
    const l = run.product.latencyMs;
    const allow = run.product.outcomes.allow ?? 0;
    return [
      run.load,
      run.product.sent,
      run.product.missing,
      ms(l?.p50),
      ms(l?.p90),
      ms(l?.p99),
      ms(l?.max),
      ms(run.floor?.latencyMs?.p50),
      ms(run.floor?.latencyMs?.p99),
      x(run.ratioP50ToFloor),
      x(run.ratioP50ToTwoPings),
      `${allow}/${run.product.sent}`,
    ];
  });
  const t = r.targets;
  return [
    `### Plan → permit latency (ms; ${r.symbols} symbols; XADD → permit \`set\` seen by a separate connection)`,
    '',
    table(
      [
        'load',
        'plans',
        'missing',
        'p50',
        'p90',
        'p99',
        'max',
        'floor p50',
        'floor p99',
        'p50 / floor',
        'p50 / 2 RTT',
        'ALLOW',
      ],
      rows,
    ),
    '',
    `Targets: p99 ≤ ${t.p99At500Ms.target} ms at 500 plans/s → ${ms(t.p99At500Ms.measured)} ms, ${verdict(t.p99At500Ms.met)}; ` +
      `p50 within ${t.p50VsTwoRoundTrips.targetRatio}× of two Redis round trips → ${x(t.p50VsTwoRoundTrips.measured)}, ${verdict(t.p50VsTwoRoundTrips.met)}.`,
  ].join('\n');
}

function reconcile(rs: ReconcileSizeResult[]): string {
  const rows = rs.map((r) => [
    r.symbols,
    r.cycles,
    ms(r.durationMs?.p50, 1),
    ms(r.durationMs?.max, 1),
    ms(r.cpuMs?.p50, 1),
    ms(r.redisCpuMs?.p50, 1),
    `${r.roundTripsPerCycle.min}–${r.roundTripsPerCycle.max}`,
    r.commandsPerCycle.max,
    ms(r.floorReplayMs?.p50, 1),
    x(r.ratioToFloor),
    r.rssMbAfter,
    r.meetsTarget === null
      ? ''
      : `< ${r.targetMs} ms: median ${verdict(r.meetsTarget.median)}, every cycle ${verdict(r.meetsTarget.everyCycle)}`,
  ]);
  return [
    '### Reconcile cycle (real engine, in process)',
    '',
    table(
      [
        'symbols',
        'cycles',
        'median ms',
        'max ms',
        'node CPU ms',
        'redis CPU ms',
        'round trips',
        'commands',
        'floor (replay) ms',
        'median / floor',
        'RSS MB',
        'target',
      ],
      rows,
    ),
  ].join('\n');
}

function detection(ds: DetectionMode[]): string {
  const rows = ds.map((d) => [
    d.mode,
    d.pollSec,
    d.cadenceSec,
    d.latencyMs?.n ?? 0,
    d.missed,
    ms(d.latencyMs?.p50, 0),
    ms(d.latencyMs?.min, 0),
    ms(d.latencyMs?.max, 0),
    `${d.target.kind === 'max_le_ms' ? 'max' : 'median'} ≤ ${d.target.ms} ms: ${verdict(d.target.met)}`,
    Object.entries(d.holdReasons)
      .map(([k, v]) => `${k} ×${v}`)
      .join(', '),
  ]);
  return [
    '### Detection latency (external trade on the venue → hold readable)',
    '',
    table(
      [
        'mode',
        'poll s',
        'cadence s',
        'samples',
        'missed',
        'median ms',
        'min ms',
        'max ms',
        'target',
        'hold reason',
      ],
      rows,
    ),
  ].join('\n');
}

function snapshotPoll(r: SnapshotPollResult): string {
  return [
    `### Snapshot poll (${r.symbols} symbols, venue → Redis)`,
    '',
    table(
      [
        'polls',
        'median ms',
        'min / max ms',
        'positionRisk call median ms',
        'requests/poll',
        'weight/poll',
        'weight/min at 5 s',
        'floor median ms',
        'median / floor',
      ],
      [
        [
          r.polls,
          ms(r.durationMs?.p50),
          spread(r.durationMs),
          ms(r.positionRiskCallMs?.p50),
          r.requestsPerPoll,
          r.weightPerPoll ?? '–',
          r.weightPerMinuteAtDefaultPoll ?? '–',
          ms(r.floorMs?.p50),
          x(r.ratioToFloor),
        ],
      ],
    ),
  ].join('\n');
}

function ledger(r: LedgerResult): string {
  return [
    '### Ledger updates (apply.result → ledger, exactly once)',
    '',
    table(
      [
        'fills',
        'symbols',
        'seconds',
        'fills/s',
        'floor fills/s',
        'time / floor',
        'final ledgers exact',
        'versions exact',
      ],
      [
        [
          r.fills,
          r.symbols,
          r.seconds,
          r.fillsPerSec,
          r.floorFillsPerSec ?? '–',
          x(r.ratioToFloor),
          r.verified.ledgersExact ? 'yes' : `**NO** ${r.verified.mismatches.join('; ')}`,
          r.verified.versionsExact ? 'yes' : '**NO**',
        ],
      ],
    ),
  ].join('\n');
}

function memory(r: MemoryResult): string {
  const rows = r.services.map((s) => [
    s.service,
    `${s.rssMb.first} → ${s.rssMb.last} (max ${s.rssMb.max})`,
    `${s.heapUsedMb.first} → ${s.heapUsedMb.last} (max ${s.heapUsedMb.max})`,
    s.rssSlopeMbPerMin ?? '–',
    s.heapSlopeMbPerMin ?? '–',
    s.cpuSecPerSec ?? '–',
  ]);
  return [
    `### Memory at ${r.symbols} symbols (${r.durationSec} s under load: ${r.load.plansPerSec} plans/s, ${r.load.fillPairsPerSec} fill pairs/s)`,
    '',
    table(
      [
        'service',
        'RSS MB first → last',
        'heap used MB first → last',
        'RSS slope MB/min (2nd half)',
        'heap slope MB/min (2nd half)',
        'CPU s/s',
      ],
      rows,
    ),
    '',
    `Note: ${r.note}.`,
  ].join('\n');
}

function fillRefresh(r: FillRefreshResult): string {
  return [
    `### Brain CPU under a steady stream of our own fills (${r.symbols} symbols, P33_POLL_SEC=${r.pollSec}, brain alone in its process)`,
    '',
    table(
      ['phase', 'fills/s', 'seconds', 'brain CPU s/s', 'Redis CPU s/s', 'positionRisk requests/s'],
      r.phases.map((p) => [
        p.name,
        p.fillsPerSec,
        p.seconds,
        p.cpuSecPerSec,
        p.redisCpuSecPerSec,
        p.positionRiskPerSec,
      ]),
    ),
  ].join('\n');
}

const RENDER: Record<ScenarioName, (result: never) => string> = {
  'plan-permit': planPermit,
  reconcile,
  detection,
  'snapshot-poll': snapshotPoll,
  ledger,
  memory,
  'fill-refresh': fillRefresh,
  web: webTable,
};

export function renderTables(results: BenchResults): string {
  const m = results.machine;
  const f = results.floors;
  const parts = [
    `Generated by \`${results.command}\` on ${m.date} — ${m.cores} × ${m.cpuModel}, ${m.totalMemMb} MB, ${m.os}, Node ${m.node}, ` +
      `Redis ${m.redis}; load average (1/5/15 min) at start ${m.loadAvgAtStart.join(' / ')}, at end ${m.loadAvgAtEnd?.join(' / ') ?? '–'}; ${results.totalSeconds} s in all.`,
    '',
    `Floors: Redis PING round trip (ioredis, sequential) p50 ${ms(f.pingRttMs.p50, 3)} ms (p99 ${ms(f.pingRttMs.p99, 3)}); ` +
      `bare SET seen by the keyspace probe p50 ${ms(f.notificationMs.p50, 3)} ms (p99 ${ms(f.notificationMs.p99, 3)}).`,
  ];
  for (const [name, record] of Object.entries(results.scenarios) as [
    ScenarioName,
    BenchResults['scenarios'][ScenarioName],
  ][]) {
    if (!record) continue;
    parts.push('');
    parts.push(
      record.ok
        ? RENDER[name](record.result as never)
        : `### ${name}\n\n**FAILED**: ${record.error}`,
    );
  }
  return parts.join('\n');
}
