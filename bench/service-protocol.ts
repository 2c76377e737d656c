/** Messages between the benchmark and a service child process. */
export type ServiceKind = 'brain' | 'reconcile' | 'bare-brain';

export type ChildRequest =
  | { type: 'start'; service: ServiceKind; env: Record<string, string> }
  | { type: 'sample' }
  | { type: 'stop' };

export interface MemorySample {
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  /** Process CPU (user + system) since it started, seconds. */
  cpuSec: number;
}

export type ChildReply =
  | { type: 'ready' }
  | { type: 'stopped' }
  | { type: 'error'; message: string }
  | ({ type: 'sample' } & MemorySample);
