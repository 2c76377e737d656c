/**
 * The web page's section of docs/performance.md. Pure: the scenario's result in, markdown out.
 */
import type { WebResult } from './scenarios/web.js';
import type { Summary } from './stats.js';

const ms = (v: number | null | undefined, digits = 1): string =>
  v === null || v === undefined ? '–' : v.toFixed(digits);
const x = (v: number | null | undefined): string =>
  v === null || v === undefined ? '–' : `${v.toFixed(0)}×`;

function cells(s: Summary | null, digits = 1): string[] {
  return [ms(s?.p50, digits), ms(s?.p90, digits), ms(s?.max, digits), String(s?.n ?? 0)];
}

export function webTable(r: WebResult): string {
  const title = `### Web status page (${r.symbols} symbols, Debian's chromium; ms; ratio = p50 / Redis PING p50 ${ms(r.pingP50Ms, 3)} ms)`;
  if (r.skipped !== null) return `${title}\n\nSkipped: ${r.skipped}.`;
  const rows = [
    ...r.holdVisible.map((h) => [
      `SETEX hold → shown in the page (refresh ${h.refreshMs} ms)`,
      ...cells(h.latencyMs),
      x(h.ratioP50ToPing),
    ]),
    ['page load → whole table on screen', ...cells(r.pageLoadMs), x(r.pageLoadRatioP50ToPing)],
    [
      'one desk read (every symbol + heartbeats, one pipeline)',
      ...cells(r.deskReadMs, 2),
      x(r.deskReadRatioP50ToPing),
    ],
  ];
  return [
    title,
    '',
    '| what | p50 | p90 | max | n | p50 / PING |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}
