/**
 * One private redis-server per test run (never the developer's 6379). Tests that need to
 * kill Redis start their own with `startEmbeddedRedis()`.
 */
import type { TestProject } from 'vitest/node';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../src/dev/redis-server.js';

let server: EmbeddedRedis | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await startEmbeddedRedis();
  project.provide('redisUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
