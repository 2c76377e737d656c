/**
 * Fencing (SPEC §11, LESSONS #24): the refusals every write script of a leader role
 * shares, and the one Lua block that makes them.
 *
 * A lease alone cannot stop a leader that was paused (GC, SIGSTOP, a partition, a VM
 * that slept) and wakes up still believing it leads. So `lease_acquire` raises the role's
 * fence to the new epoch, and every write script of the role takes:
 *
 * - in KEYS: the role's fence key `P:posguard:fence:<role>`, type-checked as a string with
 *   the script's other keys before the first write;
 * - in its ARGV object: `epoch`, the writer's epoch (from `lease_acquire`);
 *
 * and runs `FENCE_CHECK_LUA` after its type checks and before its first write, with the
 * decoded ARGV object in `a` and the fence key in a local `fence_key`:
 *
 *     local a = cjson.decode(ARGV[1])
 *     -- … type checks of every key, the fence key included …
 *     local fence_key = KEYS[n]
 *     -- the block, verbatim (test/unit/scripts/lease-scripts.test.ts checks every copy)
 *     -- … writes …
 *
 * The block replies `{status="fenced", fence, epoch}` and writes nothing when the epoch is
 * below the fence, or when the fence key is missing or holds no epoch (`fence` = null:
 * fail closed — a lost fence is not a licence to write). After it, `fence` is a number
 * ≤ `a.epoch`. The writer that gets `fenced` steps down at once
 * (`LeaseKeeper.reportFenced`), logs once and counts it. Each role's spec decodes the
 * reply with `decodeFenced` first and adds `FencedResult` to its result union.
 */
import { isEpoch } from '../../domain/leadership.js';
import { PosguardError } from '../../errors.js';
import type { ScriptReply } from './script.js';
export { type WrongTypeResult, decodeWrongType } from './script.js';

/** The fence check, verbatim in every write script of a role (see the header). */
export const FENCE_CHECK_LUA = `-- fence check (SPEC §11; src/redis/scripts/fencing.ts): nothing is written below the fence
local fence = redis.call('GET', fence_key)
fence = fence and string.match(fence, '^%d+$') and tonumber(fence) or nil
if fence == nil or type(a.epoch) ~= 'number' or a.epoch < fence then
  return cjson.encode({ status = 'fenced', fence = fence or cjson.null, epoch = a.epoch })
end`;

/** A write refused by the fence: nothing was written. `fence` null = missing or unreadable. */
export interface FencedResult {
  status: 'fenced';
  fence: number | null;
  epoch: number;
}

/** The writer's epoch for an ARGV object; a caller without a valid epoch is a bug. */
export function epochArg(spec: { name: string }, epoch: number): number {
  if (!isEpoch(epoch)) {
    throw new PosguardError(
      'USAGE',
      `${spec.name}: epoch ${String(epoch)} is not a positive integer (take it from lease_acquire)`,
    );
  }
  return epoch;
}

function invalid(spec: { name: string }, what: string): never {
  throw new PosguardError('SCRIPT_REPLY_INVALID', `${spec.name} returned a malformed ${what}`);
}

const isFence = (v: unknown): boolean =>
  v === null || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);

/** The typed `fenced` refusal, or null when the reply is not one. */
export function decodeFenced(spec: { name: string }, reply: ScriptReply): FencedResult | null {
  if (reply.status !== 'fenced') return null;
  const { fence, epoch } = reply;
  if (!isFence(fence) || typeof epoch !== 'number' || !Number.isSafeInteger(epoch)) {
    return invalid(spec, 'fenced reply');
  }
  return { status: 'fenced', fence: fence as number | null, epoch };
}
