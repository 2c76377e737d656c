import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type Rig, startRig } from '../exchange/helpers.js';
import { TimeSync } from '../../src/brain/time-sync.js';
import { createLogger } from '../../src/observability/logger.js';
import { SYSTEM_CLOCK, waitFor } from './helpers.js';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.venue.close();
  rig = null;
});

describe('time sync at start', () => {
  it('a failing /fapi/v1/time is logged once, retried, and recovers', async () => {
    rig = await startRig();
    rig.venue.control.addFault({ kind: 'http_5xx', path: '/fapi/v1/time', count: 3 });
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const sync = new TimeSync({
      client: rig.client,
      clock: SYSTEM_CLOCK,
      logger: createLogger({ name: 't', level: 'info', destination: sink }),
      retryMs: 30,
    });
    sync.start();
    expect(sync.isSynced).toBe(false);
    await waitFor(() => Promise.resolve(sync.isSynced ? true : null));
    await sync.stop();
    expect(rig.venue.control.requestCounts()['/fapi/v1/time']).toBe(4);
    expect(lines.filter((l) => l.includes('exchange time sync failing'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('exchange time sync recovered'))).toHaveLength(1);
  });
});
