/**
 * The one script layer (STYLE "Lua"): every `.lua` file in `src/redis/lua/` has exactly
 * one `ScriptSpec` — its name, contract version, key count, a pure `encode` (typed
 * arguments → KEYS and ARGV) and a pure `decode` (reply → typed result). Both are tested
 * without Redis; the spec's functional test runs the same cases against a real server.
 *
 * Conventions shared by every script:
 * - ARGV: exactly one argument, a JSON object (`ARGV[1]`), decoded with `cjson.decode`.
 * - Reply: a JSON object string with a `status` field (`cjson.encode`); a refusal is a
 *   status, never an error reply. An unknown status is `SCRIPT_REPLY_INVALID`.
 * - NOSCRIPT: scripts run as ioredis custom commands (`defineCommand`), which send EVAL
 *   the first time on each socket and re-send after NOSCRIPT — in single calls and inside
 *   pipelines alike — so no caller handles it (ioredis `Script`).
 * - Error replies (WRONGTYPE, READONLY, …) become typed errors in `reply-errors.ts`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChainableCommander, Redis } from 'ioredis';
import { PosguardError } from '../../errors.js';
import { typedReplyError } from './reply-errors.js';

export interface ScriptCall {
  readonly keys: readonly string[];
  /** The JSON object that becomes ARGV[1]. */
  readonly argv: Readonly<Record<string, unknown>>;
}

export interface ScriptSpec<A, R> {
  /** File name without `.lua` in `src/redis/lua/`. */
  readonly name: string;
  /** Bumped whenever KEYS, ARGV or the reply change; part of the command name. */
  readonly version: number;
  /** A fixed key count, or `'variable'` when encode decides (e.g. one key per evidence entry). */
  readonly keyCount: number | 'variable';
  encode(args: A): ScriptCall;
  decode(reply: ScriptReply): R;
}

/** What `decode` receives: the parsed JSON reply (a `status` string is guaranteed). */
export type ScriptReply = Record<string, unknown> & { status: string };

const LUA_DIRS = [
  new URL('../lua/', import.meta.url), // running from src/ (tests, tsx)
  new URL('../../../../src/redis/lua/', import.meta.url), // running from dist/src/redis/scripts/
];

const sources = new Map<string, string>();

export function luaSource(name: string): string {
  const cached = sources.get(name);
  if (cached !== undefined) return cached;
  for (const dir of LUA_DIRS) {
    try {
      const source = readFileSync(fileURLToPath(new URL(`${name}.lua`, dir)), 'utf8');
      sources.set(name, source);
      return source;
    } catch {
      // try the next location
    }
  }
  throw new PosguardError('NOT_FOUND', `Lua script ${name}.lua not found in src/redis/lua/`);
}

export function commandName(spec: ScriptSpec<never, unknown>): string {
  return `posguard_${spec.name}_v${spec.version}`;
}

type ScriptFn = (...args: unknown[]) => Promise<unknown>;

function ensureDefined(redis: Redis, spec: ScriptSpec<never, unknown>): string {
  const name = commandName(spec);
  if (!(name in redis.scriptsSet)) {
    redis.defineCommand(name, {
      lua: luaSource(spec.name),
      ...(spec.keyCount === 'variable' ? {} : { numberOfKeys: spec.keyCount }),
    });
  }
  return name;
}

/** The command arguments in the form ioredis' custom command takes. */
export function commandArgs(spec: ScriptSpec<never, unknown>, call: ScriptCall): unknown[] {
  if (spec.keyCount !== 'variable' && call.keys.length !== spec.keyCount) {
    throw new PosguardError(
      'USAGE',
      `${spec.name}: encode produced ${call.keys.length} keys, the script takes ${spec.keyCount}`,
    );
  }
  const argv = JSON.stringify(call.argv);
  return spec.keyCount === 'variable'
    ? [call.keys.length, ...call.keys, argv]
    : [...call.keys, argv];
}

/** Parses a script's JSON reply and hands it to the spec's `decode`. */
export function decodeReply<R>(spec: ScriptSpec<never, R>, reply: unknown): R {
  let parsed: unknown;
  try {
    parsed = typeof reply === 'string' ? JSON.parse(reply) : undefined;
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new PosguardError('SCRIPT_REPLY_INVALID', `${spec.name} returned ${preview(reply)}`);
  }
  const status = (parsed as Record<string, unknown>).status;
  if (typeof status !== 'string') {
    throw new PosguardError('SCRIPT_REPLY_INVALID', `${spec.name} reply has no status`);
  }
  return spec.decode(parsed as ScriptReply);
}

export function unknownStatus(spec: { name: string }, reply: { status?: unknown }): never {
  throw new PosguardError(
    'SCRIPT_REPLY_INVALID',
    `${spec.name} returned an unknown status ${JSON.stringify(reply.status)}`,
  );
}

/** A key of the wrong type (or an epoch key holding no epoch): nothing written. */
export interface WrongTypeResult {
  status: 'wrong_type';
  key: string;
  found: string;
}

/**
 * The refusal every write script shares: a key holding another type than the script
 * writes there, found by the type checks before the first write — nothing was written.
 * Null when the reply is not one; a malformed one is SCRIPT_REPLY_INVALID.
 */
export function decodeWrongType(
  spec: { name: string },
  reply: ScriptReply,
): WrongTypeResult | null {
  if (reply.status !== 'wrong_type') return null;
  if (typeof reply.key !== 'string' || typeof reply.found !== 'string') {
    throw new PosguardError(
      'SCRIPT_REPLY_INVALID',
      `${spec.name} returned a malformed wrong_type reply`,
    );
  }
  return { status: 'wrong_type', key: reply.key, found: reply.found };
}

function preview(reply: unknown): string {
  const text = typeof reply === 'string' ? reply : JSON.stringify(reply);
  return text === undefined ? String(reply) : text.slice(0, 120);
}

/** Runs one script call and decodes its reply. Error replies become typed errors. */
export async function runScript<A, R>(redis: Redis, spec: ScriptSpec<A, R>, args: A): Promise<R> {
  const generic = spec as unknown as ScriptSpec<never, R>;
  const name = ensureDefined(redis, generic);
  const fn = (redis as unknown as Record<string, ScriptFn>)[name] as ScriptFn;
  let reply: unknown;
  try {
    reply = await fn.apply(redis, commandArgs(generic, spec.encode(args)));
  } catch (error) {
    throw typedReplyError(error, spec.name);
  }
  return decodeReply(generic, reply);
}

/** A pipeline on which every given script can be queued (defines them first). */
export function scriptPipeline(
  redis: Redis,
  specs: readonly ScriptSpec<never, unknown>[],
): ChainableCommander {
  for (const spec of specs) ensureDefined(redis, spec);
  return redis.pipeline();
}

/**
 * Queues one call on a pipeline made by `scriptPipeline`. `onReply` receives the decoded
 * result or the typed error as soon as that reply arrives (before `exec` resolves), so a
 * caller pairs each call with its own reply instead of keeping an index.
 */
export function queueScript<A, R>(
  pipeline: ChainableCommander,
  spec: ScriptSpec<A, R>,
  args: A,
  onReply: (error: Error | null, result: R | undefined) => void,
): void {
  const generic = spec as unknown as ScriptSpec<never, R>;
  const name = commandName(generic);
  const fn = (pipeline as unknown as Record<string, ScriptFn | undefined>)[name];
  if (fn === undefined) {
    throw new PosguardError(
      'USAGE',
      `${spec.name} was not defined on this pipeline: build it with scriptPipeline()`,
    );
  }
  const argv = commandArgs(generic, spec.encode(args));
  void fn.call(pipeline, ...argv, (error: unknown, reply: unknown) => {
    if (error) return onReply(typedReplyError(error, spec.name), undefined);
    let result: R;
    try {
      result = decodeReply(generic, reply);
    } catch (decodeError) {
      return onReply(decodeError as Error, undefined);
    }
    onReply(null, result);
  });
}
