import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestRedis, type TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { assertBuilt, runCli } from './run-cli.js';

let t: TestRedis;
const env = (): Record<string, string> => ({ REDIS_URL: t.url, KEY_PREFIX: t.prefix });

async function add(
  event: string,
  symbol: string,
  extra: Record<string, string> = {},
): Promise<string> {
  const now = Date.now();
  const id = await t.redis.xadd(
    t.keys.reconcileEventsStream,
    '*',
    'event',
    event,
    'symbol',
    symbol,
    'ts',
    String(Math.floor(now / 1000)),
    'ts_ms',
    String(now),
    'reason',
    'r',
    ...Object.entries(extra).flat(),
  );
  return id ?? '';
}

beforeAll(() => assertBuilt());
beforeEach(() => {
  t = openTestRedis('events');
});
afterEach(() => t.close());

describe('posguard events', () => {
  it('lists recent events oldest first, filtered by symbol and count', async () => {
    for (let i = 0; i < 30; i += 1)
      await add('HOLD_SET', i % 3 === 0 ? 'ETHUSDT' : 'BTCUSDT', { n: String(i) });
    const run = await runCli(['events', '--symbol', 'ETHUSDT', '--count', '4', '--json'], {
      env: env(),
    });
    expect(run.code).toBe(0);
    const events = JSON.parse(run.stdout) as Array<Record<string, string>>;
    expect(events.map((e) => e.n)).toEqual(['18', '21', '24', '27']);
    expect(events.every((e) => e.symbol === 'ETHUSDT')).toBe(true);

    const text = await runCli(['events', '-n', '2'], { env: env() });
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/HOLD_SET\s+BTCUSDT\s+reason="r" n="29"/);
  });

  it('an empty stream says so', async () => {
    const run = await runCli(['events'], { env: env() });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/no events/);
  });

  it('--follow prints events as they arrive, with no gap after the listing, until SIGINT (exit 0)', async () => {
    await add('LEDGER_INIT', 'BTCUSDT', { marker: 'old' });
    let stdout = '';
    let kill: (() => void) | undefined;
    const done = runCli(['events', '--follow', '--json', '--symbol', 'BTCUSDT'], {
      env: env(),
      onSpawn: (child) => {
        kill = () => child.kill('SIGINT');
        child.stdout?.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
        });
      },
    });
    const waitForOutput = (text: string): Promise<boolean> =>
      waitFor(() => stdout.includes(text), {
        timeoutMs: 10_000,
        what: () => `${text} in ${stdout}`,
      });
    await waitForOutput('"marker":"old"');
    // Written right after the listing: --follow continues from the newest listed id.
    await add('AUTO_REPAIR', 'ETHUSDT', { marker: 'other-symbol' });
    await add('AUTO_REPAIR', 'BTCUSDT', { marker: 'new' });
    await waitForOutput('"marker":"new"');
    kill?.();
    const run = await done;
    expect(run.code).toBe(0);
    const lines = run.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    expect(lines.map((l) => l.marker)).toEqual(['old', 'new']);
  });
});
