/**
 * Permit decisions as Redis remembers them, for the counters and a symbol's history.
 *
 * The brain keeps its totals in Prometheus counters (`p33_permit_total{decision}`,
 * `p33_permit_deny_total{reason}` on its /metrics), not in Redis. What Redis does keep, for
 * every answered plan, is the plan-seen marker (`P:posguard:plan:seen:PLAN` = `allow ENTRY`
 * or `deny:REASON ENTRY`, kept P33_PLAN_SEEN_TTL_SEC) — it outlives the permit itself, which
 * the gate deletes when it consumes it. So the page counts the decisions of the most recent
 * plans of `apply.plan` (a bounded window: XREVRANGE COUNT n, then one pipelined GET per
 * plan) and needs no Prometheus. Read-only.
 */
import type { Redis } from 'ioredis';
import { parsePlan } from '../domain/plan.js';
import { streamIdMs } from '../domain/identifiers.js';
import type { Keys } from '../redis/keys.js';
import { isReplyErrorKind } from '../redis/scripts/reply-errors.js';

export type PlanDecision =
  | { kind: 'allow' }
  | { kind: 'deny'; reason: string }
  /** The plan id was answered for an earlier entry (a resent plan gets no second permit). */
  | { kind: 'duplicate' }
  /** No marker (yet): the brain has not answered, or the marker expired. */
  | { kind: 'pending' };

/** Reads a plan-seen marker written by brain_issue_permit.lua (`OUTCOME ENTRY_ID`). */
export function decodePlanMarker(marker: string | null, entryId: string): PlanDecision {
  if (marker === null) return { kind: 'pending' };
  const [outcome = '', answeredEntry] = marker.split(' ');
  if (answeredEntry !== undefined && answeredEntry !== entryId) return { kind: 'duplicate' };
  if (outcome === 'allow') return { kind: 'allow' };
  if (outcome.startsWith('deny:')) return { kind: 'deny', reason: outcome.slice(5) || 'unknown' };
  return { kind: 'deny', reason: `unreadable marker: ${outcome}` };
}

export interface PlanRecord {
  entry_id: string;
  ts_ms: number;
  plan_id: string | null;
  symbol: string | null;
  action: string | null;
  /** execute | ignored (decision ≠ EXECUTE: acked, no permit) | bad (no valid plan id) */
  kind: 'execute' | 'ignored' | 'bad';
  decision: PlanDecision | null;
}

export interface PermitCounts {
  /** Plans looked at (the newest `window` entries of apply.plan). */
  plans: number;
  oldest_ms: number | null;
  newest_ms: number | null;
  allow: number;
  deny: number;
  deny_by_reason: Record<string, number>;
  duplicate: number;
  pending: number;
  ignored: number;
  bad: number;
}

export function countDecisions(plans: readonly PlanRecord[]): PermitCounts {
  const counts: PermitCounts = {
    plans: plans.length,
    oldest_ms: plans.length === 0 ? null : Math.min(...plans.map((p) => p.ts_ms)),
    newest_ms: plans.length === 0 ? null : Math.max(...plans.map((p) => p.ts_ms)),
    allow: 0,
    deny: 0,
    deny_by_reason: {},
    duplicate: 0,
    pending: 0,
    ignored: 0,
    bad: 0,
  };
  for (const plan of plans) {
    if (plan.kind !== 'execute') counts[plan.kind] += 1;
    else if (plan.decision?.kind === 'deny') {
      counts.deny += 1;
      counts.deny_by_reason[plan.decision.reason] =
        (counts.deny_by_reason[plan.decision.reason] ?? 0) + 1;
    } else if (plan.decision !== null) counts[plan.decision.kind] += 1;
  }
  return counts;
}

function fieldsOf(flat: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
  return fields;
}

function planRecord(id: string, flat: string[]): PlanRecord {
  const parsed = parsePlan(id, fieldsOf(flat));
  const base = { entry_id: id, ts_ms: streamIdMs(id), decision: null };
  if (parsed.kind === 'bad') {
    return { ...base, kind: 'bad', plan_id: null, symbol: null, action: null };
  }
  if (parsed.kind === 'ignored') {
    return { ...base, kind: 'ignored', plan_id: parsed.planId, symbol: null, action: null };
  }
  const plan = parsed.plan;
  return {
    ...base,
    kind: 'execute',
    plan_id: plan.planId,
    symbol: plan.symbolValid ? plan.symbol : null,
    action: plan.action,
  };
}

/** Newest-first plans of apply.plan (at most `count`), each with its decision. */
export async function readRecentPlans(
  redis: Redis,
  keys: Keys,
  count: number,
  filter: (plan: PlanRecord) => boolean = () => true,
  scanLimit = count,
): Promise<PlanRecord[]> {
  const found: PlanRecord[] = [];
  let end = '+';
  let scanned = 0;
  const page = Math.min(500, Math.max(1, scanLimit));
  while (found.length < count && scanned < scanLimit) {
    const entries = await redis.xrevrange(keys.applyPlanStream, end, '-', 'COUNT', page);
    for (const [id, flat] of entries) {
      const record = planRecord(id, flat);
      if (found.length < count && filter(record)) found.push(record);
    }
    scanned += entries.length;
    const last = entries[entries.length - 1];
    if (last === undefined || entries.length < page) break;
    end = `(${last[0]}`;
  }
  const execute = found.filter((p) => p.kind === 'execute' && p.plan_id !== null);
  if (execute.length > 0) {
    const pipeline = redis.pipeline();
    for (const plan of execute) pipeline.get(keys.planSeen(plan.plan_id as string));
    const replies = (await pipeline.exec()) ?? [];
    execute.forEach((plan, i) => {
      const [error, marker] = replies[i] ?? [new Error('no reply'), null];
      if (error !== null && !isReplyErrorKind(error, 'WRONGTYPE')) throw error;
      plan.decision = decodePlanMarker(typeof marker === 'string' ? marker : null, plan.entry_id);
    });
  }
  return found;
}
