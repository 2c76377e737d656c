/**
 * Is the brain's heap growing, or is it garbage not yet collected? Runs the brain and the
 * venue in one process at 10 000 symbols under plans and fills (every fill triggers a
 * refresh of all positions), and prints the heap used after two forced collections every
 * 10 s. Run: `npm run build && node --expose-gc dist/bench/memory-gc-check.js [seconds]`.
 */
import { Redis } from 'ioredis';
import { startBrain } from '../src/brain/service.js';
import { loadConfig } from '../src/config/config.js';
import { silentLogger } from '../src/observability/logger.js';
import { startEmbeddedRedis } from '../src/dev/redis-server.js';
import { startVenue, syntheticSymbols } from '../src/dev/venue/venue.js';

const SYMBOLS = 10_000;
const gc = (globalThis as { gc?: () => void }).gc;

async function main(seconds: number): Promise<void> {
  if (!gc) throw new Error('run with node --expose-gc');
  const redis = await startEmbeddedRedis();
  const symbols = syntheticSymbols(SYMBOLS);
  const venue = await startVenue({ apiKey: 'k', apiSecret: 's', symbols });
  for (let i = 0; i < SYMBOLS; i += 3) venue.control.setPosition(symbols[i] as string, '1');
  const brain = await startBrain({
    config: loadConfig({
      REDIS_URL: redis.url,
      KEY_PREFIX: 'gc',
      P33_ALLOWLIST: symbols.join(','),
      P33_METRICS_PORT: '0',
      BINANCE_BASE_URL: venue.baseUrl,
      BINANCE_WS_URL: venue.wsUrl,
      BINANCE_API_KEY: 'k',
      BINANCE_API_SECRET: 's',
    }),
    logger: silentLogger(),
    consumer: 'gc-check',
  });
  const client = new Redis(redis.url);
  let n = 0;
  let running = true;
  const load = (async () => {
    while (running) {
      for (let i = 0; i < 5; i += 1, n += 1) {
        await client.xadd(
          'gc:stream:apply.plan',
          '*',
          'plan_id',
          `p${n}`,
          'symbol',
          symbols[(n * 7) % SYMBOLS] as string,
          'decision',
          'EXECUTE',
          'action',
          'CLOSE_PARTIAL_25',
        );
      }
      await client.xadd(
        'gc:stream:apply.result',
        '*',
        'symbol',
        symbols[(n * 3) % SYMBOLS] as string,
        'executed',
        'true',
        'filled_qty',
        '0.001',
        'side',
        n % 2 ? 'SELL' : 'BUY',
        'reduce_only',
        'false',
        'order_id',
        String(n),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const start = Date.now();
  for (let t = 10; t <= seconds; t += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    gc();
    gc();
    const m = process.memoryUsage();
    const mb = (bytes: number): string => (bytes / 1e6).toFixed(0);
    process.stdout.write(
      `${Math.round((Date.now() - start) / 1000)} s: heap used after gc ${mb(m.heapUsed)} MB, rss ${mb(m.rss)} MB, plans ${n}\n`,
    );
  }
  running = false;
  await load;
  await brain.stop();
  client.disconnect();
  await venue.close();
  await redis.stop();
}

main(Number(process.argv[2] ?? 100)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  },
);
