/**
 * A service under measurement, in its own Node process (as in production): the brain
 * (`startBrain`), the reconcile engine (`startReconcileService`) or the bare brain floor.
 * Driven by the benchmark over IPC; the environment comes in the start message (an
 * allowlist of 50 000 symbols does not fit in one environment variable).
 */
import { loadConfig } from '../src/config/config.js';
import { startBrain } from '../src/brain/service.js';
import { startReconcileService } from '../src/reconcile/service.js';
import { createRedis, waitForReady } from '../src/redis/connection.js';
import { buildKeys } from '../src/redis/keys.js';
import { errorMessage } from '../src/errors.js';
import { BareBrain } from './bare-brain.js';
import { benchLogger } from './bench-logger.js';
import type { ChildReply, ChildRequest, ServiceKind } from './service-protocol.js';

let stopService: (() => Promise<void>) | null = null;

function reply(message: ChildReply): void {
  process.send?.(message);
}

async function start(service: ServiceKind, env: Record<string, string>): Promise<void> {
  const config = loadConfig(env);
  if (service === 'brain') {
    const brain = await startBrain({
      config,
      logger: benchLogger('bench-brain'),
      consumer: 'bench',
    });
    stopService = () => brain.stop();
  } else if (service === 'reconcile') {
    const engine = await startReconcileService({ config, logger: benchLogger('bench-reconcile') });
    stopService = () => engine.stop();
  } else {
    const reader = createRedis(config.redis, { name: 'bench-bare-reader' });
    const redis = createRedis(config.redis, { name: 'bench-bare' });
    await Promise.all([waitForReady(reader), waitForReady(redis)]);
    const bare = new BareBrain(reader, redis, buildKeys(config.keys.prefix));
    await bare.start();
    stopService = async () => {
      await bare.stop();
      reader.disconnect();
      redis.disconnect();
    };
  }
}

function sample(): ChildReply {
  const m = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    type: 'sample',
    rssMb: m.rss / 1048576,
    heapUsedMb: m.heapUsed / 1048576,
    heapTotalMb: m.heapTotal / 1048576,
    externalMb: m.external / 1048576,
    cpuSec: (cpu.user + cpu.system) / 1e6,
  };
}

process.on('message', (raw: unknown) => {
  const message = raw as ChildRequest;
  if (message.type === 'start') {
    start(message.service, message.env).then(
      () => reply({ type: 'ready' }),
      (error: unknown) => reply({ type: 'error', message: errorMessage(error) }),
    );
  } else if (message.type === 'sample') {
    reply(sample());
  } else if (message.type === 'stop') {
    const stop = stopService ?? (() => Promise.resolve());
    stop().then(
      () => {
        process.send?.({ type: 'stopped' } satisfies ChildReply, () => process.exit(0));
      },
      (error: unknown) => {
        reply({ type: 'error', message: errorMessage(error) });
        process.exit(1);
      },
    );
  }
});
