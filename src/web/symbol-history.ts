/**
 * A symbol's history for the page (on click): its latest events from the audit trail and
 * its latest plans with their permit decisions (and the permit itself while it still
 * exists). Bounded scans, read-only.
 */
import type { Redis } from 'ioredis';
import { type EventRecord, recentEvents } from '../redis/event-stream.js';
import type { Keys } from '../redis/keys.js';
import { type PlanRecord, readRecentPlans } from './permit-window.js';
import { isReplyErrorKind } from '../redis/scripts/reply-errors.js';

export const HISTORY_EVENTS = 30;
export const HISTORY_PLANS = 20;
/** How far back apply.plan is searched for the symbol's plans. */
export const HISTORY_PLAN_SCAN = 5000;

export interface PermitView extends PlanRecord {
  /** The P3.3 permit's fields as text while the key exists (the gate deletes it on use). */
  permit: Record<string, string> | null;
  /** The permit key's raw value when it is not a JSON object. */
  permit_raw: string | null;
}

export interface SymbolHistory {
  symbol: string;
  events: EventRecord[];
  permits: PermitView[];
}

/** A permit JSON as flat text fields; null when it is not a JSON object. */
export function permitFields(raw: string): Record<string, string> | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    fields[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return fields;
}

export async function readSymbolHistory(
  redis: Redis,
  keys: Keys,
  symbol: string,
): Promise<SymbolHistory> {
  const events = await recentEvents(redis, keys.reconcileEventsStream, HISTORY_EVENTS, symbol);
  const plans = await readRecentPlans(
    redis,
    keys,
    HISTORY_PLANS,
    (plan) => plan.symbol === symbol,
    HISTORY_PLAN_SCAN,
  );
  const pipeline = redis.pipeline();
  for (const plan of plans) pipeline.get(keys.permitP33(plan.plan_id as string));
  const replies = plans.length === 0 ? [] : ((await pipeline.exec()) ?? []);
  const permits = plans.map((plan, i): PermitView => {
    const [error, value] = replies[i] ?? [null, null];
    if (error !== null && !isReplyErrorKind(error, 'WRONGTYPE')) throw error;
    const raw = typeof value === 'string' ? value : null;
    const fields = raw === null ? null : permitFields(raw);
    return { ...plan, permit: fields, permit_raw: raw !== null && fields === null ? raw : null };
  });
  return { symbol, events: events.reverse(), permits };
}
