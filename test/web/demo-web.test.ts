/**
 * `posguard demo` serves the status page while it runs and prints its URL at start;
 * `--no-web` does not (built CLI, two short runs).
 */
import type { ChildProcess } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SYMBOLS } from '../../src/dev/demo/scenario.js';
import { assertBuilt, runCli } from '../cli/run-cli.js';

const ARGS = ['demo', '--duration', '5', '--headless', '--scenario', 'unknown-action'];

interface Desk {
  redis: { state: string };
  rows: { symbol: string }[];
}

/** Resolves with the desk the page served while the demo ran. */
function deskWhileRunning(child: ChildProcess): Promise<Desk> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      const url = /^web page: (http:\/\/\S+)/m.exec(seen)?.[1];
      if (url === undefined) return;
      child.stdout?.off('data', onData);
      fetch(new URL('/api/desk', url))
        .then((res) => res.json() as Promise<Desk>)
        .then(resolve, reject);
    };
    child.stdout?.on('data', onData);
    child.on('close', () => reject(new Error(`the demo printed no page URL:\n${seen}`)));
  });
}

beforeAll(() => assertBuilt());

describe('posguard demo serves the web page', () => {
  it('prints the URL at start and serves the demo desk; --no-web serves nothing', async () => {
    let desk: Promise<Desk> | null = null;
    // One after the other: two demos at once race for the services' metrics ports.
    const withWeb = await runCli(ARGS, {
      timeoutMs: 60_000,
      onSpawn: (child) => {
        desk = deskWhileRunning(child);
        desk.catch(() => undefined);
      },
    });
    const withoutWeb = await runCli([...ARGS, '--no-web'], { timeoutMs: 60_000 });
    expect(withWeb.code, withWeb.stderr).toBe(0);
    const served = await (desk as Promise<Desk> | null);
    expect(served?.redis.state).toBe('up');
    expect(served?.rows.map((r) => r.symbol).sort()).toEqual([...DEMO_SYMBOLS].sort());
    expect(withWeb.stdout).toMatch(/^web page: http:\/\/127\.0\.0\.1:\d+\/ /m);
    expect(withoutWeb.code, withoutWeb.stderr).toBe(0);
    expect(withoutWeb.stdout).not.toMatch(/web page/);
  }, 90_000);
});
