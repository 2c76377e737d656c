/**
 * What every scenario receives: the run's Redis, a harness connection, the mode's
 * parameters, the floors measured at the start and a progress logger.
 */
import type { Redis } from 'ioredis';
import type { ModeParams } from '../modes.js';
import type { Summary } from '../stats.js';

export interface Floors {
  /** PING round trip through an ioredis client, ms. */
  pingRttMs: Summary;
  /** A bare SET observed through the keyspace probe, ms. */
  notificationMs: Summary;
}

export interface ScenarioContext {
  redisUrl: string;
  admin: Redis;
  params: ModeParams;
  floors: Floors;
  /** Unique per run; scenarios add their own suffix. */
  prefix: string;
  progress(message: string): void;
}
