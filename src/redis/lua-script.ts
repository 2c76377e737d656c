/**
 * Lua scripts live as files in `src/redis/lua/` with a header listing KEYS, ARGV and
 * replies. They run by EVALSHA and fall back to EVAL on NOSCRIPT (after a Redis restart
 * or SCRIPT FLUSH), in single calls and inside pipelines alike.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChainableCommander, Redis } from 'ioredis';

const LUA_DIR = new URL('../../../src/redis/lua/', import.meta.url);
const LUA_DIR_SOURCE = new URL('./lua/', import.meta.url);

function readLua(name: string): string {
  // Running from dist/ the .lua files stay in src/; running from src/ (tests) they are beside us.
  for (const dir of [LUA_DIR_SOURCE, LUA_DIR]) {
    try {
      return readFileSync(fileURLToPath(new URL(`${name}.lua`, dir)), 'utf8');
    } catch {
      // try the next location
    }
  }
  throw new Error(`Lua script ${name}.lua not found in src/redis/lua/`);
}

export type LuaArg = string | number;

export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  static load(name: string): LuaScript {
    return new LuaScript(name, readLua(name));
  }

  /** Runs the script; NOSCRIPT is answered by loading it with EVAL. */
  async run(redis: Redis, keys: readonly string[], args: readonly LuaArg[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }

  /** Makes sure the script is cached so pipelined EVALSHA calls will not meet NOSCRIPT. */
  async ensureLoaded(redis: Redis): Promise<void> {
    const [exists] = (await redis.script('EXISTS', this.sha)) as number[];
    if (exists !== 1) await redis.script('LOAD', this.source);
  }

  /** Queues the script on a pipeline. Call `ensureLoaded` before building the pipeline. */
  queue(pipeline: ChainableCommander, keys: readonly string[], args: readonly LuaArg[]): void {
    pipeline.evalsha(this.sha, keys.length, ...keys, ...args);
  }
}

export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
