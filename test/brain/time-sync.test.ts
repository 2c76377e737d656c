/**
 * Time sync at start against the venue over real HTTP; the retry runs on a manual clock
 * and scheduler, so "retried every retryMs" is checked without waiting for it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Rig, startRig } from '../exchange/helpers.js';
import { TimeSync } from '../../src/brain/time-sync.js';
import { captureLogs } from '../helpers/logs.js';
import { ManualClock } from '../helpers/manual-time.js';
import { waitFor } from '../helpers/wait.js';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.venue.close();
  rig = null;
});

describe('time sync at start', () => {
  it('a failing /fapi/v1/time is logged once, retried every retryMs (not sooner), and recovers', async () => {
    rig = await startRig();
    const venue = rig.venue;
    venue.control.addFault({ kind: 'http_5xx', path: '/fapi/v1/time', count: 3 });
    const timeRequests = (): number => venue.control.requestCounts()['/fapi/v1/time'] ?? 0;
    const logs = captureLogs('info');
    const clock = new ManualClock(Date.now());
    const sync = new TimeSync({
      client: rig.client,
      clock,
      scheduler: clock,
      logger: logs.logger,
      retryMs: 10_000,
    });
    sync.start();
    expect(sync.isSynced).toBe(false);
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      // The attempt failed and its retry is scheduled retryMs later.
      const failedAt = await waitFor(() => timeRequests() === attempt && clock.pending()[0]);
      expect(failedAt).toBe(clock.nowMs() + 10_000);
      clock.advance(9_999);
      expect(timeRequests()).toBe(attempt);
      clock.advance(1);
    }
    await waitFor(() => sync.isSynced);
    await sync.stop();
    expect(timeRequests()).toBe(4);
    expect(clock.pending()).toEqual([]);
    expect(logs.matching('exchange time sync failing')).toHaveLength(1);
    expect(logs.matching('exchange time sync recovered')).toHaveLength(1);
  });
});
