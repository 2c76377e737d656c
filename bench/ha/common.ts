/**
 * What the HA figures (takeover, fencing, failover, cost) share: a private redis-server with
 * the machine it ran on, their environment settings, summaries, and the counters the
 * instances export. The steady plan stream is src/dev/plan-stream.ts (the process tests
 * use it too).
 */
import type { Redis } from 'ioredis';
import { loadavg } from 'node:os';
import { parseCounter } from '../../src/dev/demo/observer.js';
import type { HaCluster } from '../../src/dev/ha-cluster.js';
import { type EmbeddedRedis, startEmbeddedRedis } from '../../src/dev/redis-server.js';
import { harnessClient, sleep } from '../environment.js';
import { type MachineInfo, describeMachine } from '../machine.js';
import { type Summary, roundSummary, summarize } from '../stats.js';

export { sleep };

export interface BenchRedis {
  server: EmbeddedRedis;
  /** The figure's own connection (reads, floors, MONITOR's parent). */
  admin: Redis;
  machine: MachineInfo;
  stop(): Promise<void>;
}

export async function startBenchRedis(name: string): Promise<BenchRedis> {
  const server = await startEmbeddedRedis();
  const admin = harnessClient(server.url, `bench-ha-${name}`);
  admin.on('error', () => undefined);
  const machine = await describeMachine(admin);
  return {
    server,
    admin,
    machine,
    stop: async () => {
      admin.disconnect();
      await server.stop();
    },
  };
}

/** A positive whole number from the environment (`fallback` when unset or empty). */
export function envInteger(name: string, fallback: number): number {
  return envPositive(name, fallback, true);
}

/** A positive number from the environment (`fallback` when unset or empty). */
export function envNumber(name: string, fallback: number): number {
  return envPositive(name, fallback, false);
}

function envPositive(name: string, fallback: number, integer: boolean): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(integer ? Number.isSafeInteger(value) : Number.isFinite(value)) || value <= 0)
    throw new Error(`${name}=${raw}: expected ${integer ? 'an integer' : 'a number'} > 0`);
  return value;
}

export function loadNow(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}

/** Summary rounded to 1 decimal (milliseconds), null without samples. */
export function msSummary(samples: readonly number[]): Summary | null {
  return roundSummary(summarize(samples), 1);
}

/** The sum of every sample of a counter (all label sets), or of those whose labels contain `match`. */
export function counterSum(text: string, name: string, match = ''): number {
  let sum = 0;
  for (const [labels, value] of parseCounter(text, name)) if (labels.includes(match)) sum += value;
  return sum;
}

/** Scrapes `id`; null when its endpoint does not answer (killed, paused). */
export async function scrapeOrNull(cluster: HaCluster, id: string): Promise<string | null> {
  try {
    return await cluster.scrape(id);
  } catch {
    return null;
  }
}
