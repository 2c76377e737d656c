/** PollerRole: the brain-poller's components run only while leading, one term at a time. */
import { describe, expect, it } from 'vitest';
import { PollerRole, type RoleComponent } from '../../src/brain/poller-role.js';

function recorder() {
  const log: string[] = [];
  let running = 0;
  let maxRunning = 0;
  let term = 0;
  const build = (): RoleComponent[] => {
    term += 1;
    const name = `t${term}`;
    return [
      {
        start: () => {
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          log.push(`start ${name}`);
        },
        // A stop that takes a while (a poll in flight finishing).
        stop: async () => {
          await new Promise((r) => setTimeout(r, 5));
          running -= 1;
          log.push(`stop ${name}`);
        },
      },
    ];
  };
  return { log, build, maxRunning: () => maxRunning, running: () => running };
}

describe('PollerRole', () => {
  it('starts on election, stops on loss; a quick loss and re-election never overlap two terms', async () => {
    const r = recorder();
    const errors: unknown[] = [];
    const role = new PollerRole(r.build, (e) => errors.push(e));
    expect(role.isLeading()).toBe(false);
    role.elected();
    expect(role.isLeading()).toBe(true);
    role.lost('fenced');
    expect(role.isLeading()).toBe(false);
    role.elected();
    await role.settled();
    expect(r.log).toEqual(['start t1', 'stop t1', 'start t2']);
    expect(r.maxRunning()).toBe(1);
    await role.stop();
    expect(r.log).toEqual(['start t1', 'stop t1', 'start t2', 'stop t2']);
    expect(r.running()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('an election already lost when its turn comes starts nothing; a second election while leading is ignored', async () => {
    const r = recorder();
    const role = new PollerRole(r.build, () => undefined);
    role.elected();
    role.elected();
    await role.settled();
    expect(r.log).toEqual(['start t1']);
    role.lost();
    role.elected();
    role.lost();
    await role.settled();
    expect(r.log).toEqual(['start t1', 'stop t1']);
  });

  it('a component that throws on start is reported, and the role can still stop and start again', async () => {
    const errors: unknown[] = [];
    let fail = true;
    const role = new PollerRole(
      () => [
        {
          start: () => {
            if (fail) throw new Error('boom');
          },
          stop: () => Promise.resolve(),
        },
      ],
      (e) => errors.push(e),
    );
    role.elected();
    await role.settled();
    expect(errors).toHaveLength(1);
    fail = false;
    role.lost();
    role.elected();
    await role.settled();
    expect(errors).toHaveLength(1);
    await role.stop();
  });
});
