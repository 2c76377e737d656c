/**
 * The machine a run measured: cores, CPU model, memory, load, Node and Redis versions.
 */
import { cpus, loadavg, totalmem, release, platform } from 'node:os';
import type { Redis } from 'ioredis';

export interface MachineInfo {
  date: string;
  cores: number;
  cpuModel: string;
  totalMemMb: number;
  loadAvgAtStart: number[];
  /** Set when the run ends: a load far above the core count means other work shared the CPUs. */
  loadAvgAtEnd?: number[];
  os: string;
  node: string;
  redis: string;
}

function infoField(info: string, field: string): string {
  const line = info.split(/\r?\n/).find((l) => l.startsWith(`${field}:`));
  return line === undefined ? 'unknown' : line.slice(field.length + 1).trim();
}

export function loadAverage(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}

export async function describeMachine(redis: Redis): Promise<MachineInfo> {
  const info = await redis.info('server');
  const list = cpus();
  return {
    date: new Date().toISOString(),
    cores: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    totalMemMb: Math.round(totalmem() / 1024 / 1024),
    loadAvgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    os: `${platform()} ${release()}`,
    node: process.version,
    redis: infoField(info, 'redis_version'),
  };
}

/** Redis server CPU (user + sys seconds) from INFO cpu. */
export async function redisCpuSec(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  return Number(infoField(info, 'used_cpu_user')) + Number(infoField(info, 'used_cpu_sys'));
}
