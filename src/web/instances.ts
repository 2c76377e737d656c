/**
 * Instances and leaders (SPEC §11), for the page's section that appears only when instance
 * records exist. The HA issue that writes them is not built yet; this reads the names the
 * SPEC gives — presence records `P:posguard:instance:<service>:<id>` (JSON: role, version,
 * started, epoch; short TTL) and leases `P:posguard:lease:<role>` — so the section shows up
 * by itself once services write them. The key names come from keys.ts and the roles from
 * domain/leadership.ts, like every other reader's.
 *
 * Finding the records takes a SCAN of the keyspace (there is no index of instances), so
 * the page does it rarely (every INSTANCES_EVERY_MS) and only while a page is open.
 */
import type { Redis } from 'ioredis';
import { LEADER_ROLES } from '../domain/leadership.js';
import type { Keys } from '../redis/keys.js';

export interface InstanceView {
  service: string;
  id: string;
  /** The record's scalar fields as text (role, version, started, epoch, …). */
  facts: Record<string, string>;
  ttl_ms: number | null;
  problem: string | null;
}

export interface InstancesView {
  instances: InstanceView[];
  /** role → the lease value (the leader's id), null when nobody holds the lease. */
  leaders: Record<string, string | null>;
}

/** One presence record as text; never throws. */
export function instanceView(
  suffix: string,
  raw: string | null,
  ttlMs: number | null,
): InstanceView {
  const at = suffix.indexOf(':');
  const service = at === -1 ? suffix : suffix.slice(0, at);
  const id = at === -1 ? '' : suffix.slice(at + 1);
  const base = { service, id, ttl_ms: ttlMs, facts: {} };
  if (raw === null) return { ...base, problem: 'not a string' };
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { ...base, problem: 'not a JSON object' };
    }
    const facts: Record<string, string> = {};
    for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
      if (['string', 'number', 'boolean'].includes(typeof value)) facts[name] = String(value);
    }
    return { ...base, facts, problem: null };
  } catch {
    return { ...base, problem: 'not JSON' };
  }
}

/** Null when no instance record exists (the page then shows no section at all). */
export async function readInstances(redis: Redis, keys: Keys): Promise<InstancesView | null> {
  const base = keys.instanceKeyPrefix;
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${base}*`, 'COUNT', 1000);
    for (const key of batch) found.add(key);
    cursor = next;
  } while (cursor !== '0');
  if (found.size === 0) return null;
  const names = [...found].sort();
  const pipeline = redis.pipeline();
  for (const key of names) pipeline.get(key).pttl(key);
  for (const role of LEADER_ROLES) pipeline.get(keys.lease(role));
  const replies = (await pipeline.exec()) ?? [];
  const text = (i: number): string | null => {
    const [error, value] = replies[i] ?? [null, null];
    return error === null && typeof value === 'string' ? value : null;
  };
  const instances: InstanceView[] = [];
  names.forEach((key, i) => {
    const ttl = replies[2 * i + 1]?.[1];
    if (ttl === -2) return; // expired between SCAN and GET
    instances.push(
      instanceView(
        key.slice(base.length),
        text(2 * i),
        typeof ttl === 'number' && ttl >= 0 ? ttl : null,
      ),
    );
  });
  if (instances.length === 0) return null;
  const leaders: Record<string, string | null> = {};
  LEADER_ROLES.forEach((role, i) => (leaders[role] = text(2 * names.length + i)));
  return { instances, leaders };
}
