/**
 * `posguard instances [--json]` — the instances and each role's leader, epoch, fence and
 * lease (SPEC §11), from the one HA reader (src/redis/ha/instances-reader.ts). `status`
 * shows the same tables under the symbols; this command is the one to script against:
 * `--json` prints the HA state (`{"instances", "roles", "findings", "truncated"}`), or
 * `null` when no presence record and no lease, epoch or fence key exists.
 */
import type { Command } from 'commander';
import { readHaState } from '../../redis/ha/instances-reader.js';
import { systemClock } from '../arguments.js';
import { configFrom, withEnvFile } from '../config-option.js';
import { renderHaState } from '../output/instances-view.js';
import { print, printJson } from '../output/json.js';
import { withSession } from '../redis-session.js';

async function instances(options: { envFile?: string; json?: boolean }): Promise<void> {
  const config = configFrom(options);
  const nowMs = systemClock.nowMs();
  const ha = await withSession(config, ({ redis, keys }) =>
    readHaState(redis, keys, { leaseMs: config.ha.leaseMs, nowMs }),
  );
  if (options.json === true) printJson(ha);
  else if (ha === null)
    print('no presence records and no leases: no instance has run with leases yet\n');
  else print(renderHaState(ha, nowMs).replace(/^\n+/, ''));
}

export function registerInstances(program: Command): void {
  withEnvFile(
    program
      .command('instances')
      .summary('running instances, and the leader, epoch, fence and lease of each role')
      .description(
        'one line per instance (presence record: version, started, roles, the roles it leads with\n' +
          'their epochs, record TTL) and one per role (leader, epoch, fence, lease age and what is\n' +
          'left, state and problems) — SPEC §11. `posguard doctor` says what to do about a problem',
      )
      .option('--json', 'print the HA state as JSON (null when there is nothing to show)')
      .addHelpText('after', '\nExamples:\n  posguard instances\n  posguard instances --json'),
  ).action((options: { envFile?: string; json?: boolean }) => instances(options));
}
