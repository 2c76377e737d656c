/**
 * The instances section of `posguard status` (SPEC §11): one line per instance and one per
 * leader role, from the judgement in src/domain/ha-state.ts; the problems of a role below
 * its table (`posguard doctor` gives the fix of each).
 */
import type { HaState, InstanceState, RoleState } from '../../domain/ha-state.js';
import { type Painter, painterFor } from './colour.js';
import { renderTable } from './table.js';

/** A duration as an operator reads it: 850ms, 12.3s, 4m05s, 3h02m, 2d04h. */
export function shortDuration(ms: number): string {
  const t = Math.max(0, Math.round(ms));
  if (t < 1000) return `${t}ms`;
  const s = t / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const two = (n: number): string => String(Math.floor(n)).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${two((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d${two((s % 86_400) / 3600)}h`;
}

/** Text from a record, safe for a terminal: control characters shown as `?`, cut at 40. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > 40 ? `${clean.slice(0, 39)}…` : clean;
}

function instanceRow(i: InstanceState, nowMs: number, painter: Painter): string[] {
  const r = i.record;
  const ttl = i.ttl_ms === null ? 'no TTL' : shortDuration(i.ttl_ms);
  const problem = i.problem === null ? '-' : painter.paint(printable(i.problem), 'yellow');
  if (r === null) return [i.service, printable(i.id) || '?', '-', '-', '-', '-', '-', ttl, problem];
  return [
    r.service,
    r.id,
    printable(r.version) || '-',
    new Date(r.started_ms).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    shortDuration(nowMs - r.started_ms),
    r.roles.length === 0 ? '-' : r.roles.join(','),
    r.leader_of.length === 0 ? '-' : r.leader_of.map((l) => `${l.role}@${l.epoch}`).join(','),
    ttl,
    problem,
  ];
}

function stateCell(role: RoleState, painter: Painter): string {
  if (role.state === 'leader') return painter.paint('leader', 'green');
  if (role.state === 'problem') return painter.paint('PROBLEM', 'red');
  const n = role.campaigners.length;
  return n === 0
    ? 'no leader (no instance campaigns)'
    : painter.paint(`no leader (${n} instance${n === 1 ? ' campaigns' : 's campaign'})`, 'red');
}

function roleRow(role: RoleState, painter: Painter): string[] {
  const ms = (v: number | null): string => (v === null ? '-' : `${v}ms`);
  return [
    role.role,
    role.holder === null ? '-' : printable(role.holder),
    role.epoch === null ? '-' : String(role.epoch),
    role.fence === null ? '-' : String(role.fence),
    ms(role.lease_age_ms),
    role.holder !== null && role.lease_ttl_ms === null ? 'no expiry' : ms(role.lease_ttl_ms),
    stateCell(role, painter),
  ];
}

export function renderHaState(
  state: HaState,
  nowMs: number,
  stream: { isTTY?: boolean } = process.stdout,
): string {
  const painter = painterFor(stream);
  const instances =
    state.instances.length === 0
      ? 'no presence records\n'
      : renderTable(
          [
            { header: 'SERVICE' },
            { header: 'ID' },
            { header: 'VERSION' },
            { header: 'STARTED' },
            { header: 'UP', align: 'right' },
            { header: 'ROLES' },
            { header: 'LEADS' },
            { header: 'TTL', align: 'right' },
            { header: 'PROBLEM' },
          ],
          state.instances.map((i) => instanceRow(i, nowMs, painter)),
        );
  const roles = renderTable(
    [
      { header: 'ROLE' },
      { header: 'LEADER' },
      { header: 'EPOCH', align: 'right' },
      { header: 'FENCE', align: 'right' },
      { header: 'LEASE_AGE', align: 'right' },
      { header: 'LEASE_LEFT', align: 'right' },
      { header: 'STATE' },
    ],
    state.roles.map((r) => roleRow(r, painter)),
  );
  const problems = state.roles.flatMap((r) => r.problems.map((p) => `  ${r.role}: ${p}`));
  const more = state.truncated
    ? [`  (more presence records than the ${state.instances.length} shown)`]
    : [];
  const footer =
    problems.length + more.length === 0
      ? ''
      : [...problems, ...more, '  run `posguard doctor` for what to do'].join('\n') + '\n';
  return `\ninstances\n${instances}\nleaders\n${roles}${footer}`;
}
