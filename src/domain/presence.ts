/**
 * Presence records (SPEC §11): each running instance keeps one JSON record with a short
 * TTL at `P:posguard:instance:<service>:<id>`, refreshed at the lease cadence, so
 * `posguard status`, `doctor` and the web page can list instances, leaders and epochs.
 *
 * {"service":"reconcile","id":"host-a:4242","roles":["reconcile"],"version":"0.1.0",
 *  "started_ms":1767000000000,"epoch":7,"leader_of":[{"role":"reconcile","epoch":7}]}
 *
 * `roles` are the roles the instance campaigns for; `leader_of` the leases it holds now,
 * each with its epoch; `epoch` repeats the highest of those (null when it leads nothing)
 * so a reader that shows only scalar fields still sees it.
 */
import {
  isEpoch,
  isInstanceId,
  isLeaderRole,
  isServiceName,
  type LeaderRole,
} from './leadership.js';

export interface Leadership {
  readonly role: LeaderRole;
  readonly epoch: number;
}

export interface PresenceRecord {
  readonly service: string;
  readonly id: string;
  readonly roles: readonly LeaderRole[];
  readonly version: string;
  readonly started_ms: number;
  readonly epoch: number | null;
  readonly leader_of: readonly Leadership[];
}

/** The record for an instance that leads `leaderOf` now (`epoch` derived from it). */
export function presenceRecord(
  base: Omit<PresenceRecord, 'epoch' | 'leader_of'>,
  leaderOf: readonly Leadership[],
): PresenceRecord {
  const epochs = leaderOf.map((l) => l.epoch);
  return {
    ...base,
    epoch: epochs.length === 0 ? null : Math.max(...epochs),
    leader_of: [...leaderOf],
  };
}

export function encodePresence(record: PresenceRecord): string {
  return JSON.stringify({
    service: record.service,
    id: record.id,
    roles: record.roles,
    version: record.version,
    started_ms: record.started_ms,
    epoch: record.epoch,
    leader_of: record.leader_of.map((l) => ({ role: l.role, epoch: l.epoch })),
  });
}

export type PresenceDecoded = { ok: true; record: PresenceRecord } | { ok: false; problem: string };

const fail = (problem: string): PresenceDecoded => ({ ok: false, problem });

/** Reads a presence record (`null`: the key is missing or not a string). Never throws. */
export function decodePresence(raw: string | null): PresenceDecoded {
  if (raw === null) return fail('missing or not a string');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return fail('not JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return fail('not a JSON object');
  }
  const o = parsed as Record<string, unknown>;
  if (!isServiceName(o.service)) return fail('service: expected ^[a-z][a-z0-9-]{0,31}$');
  if (!isInstanceId(o.id)) return fail('id: expected ^[A-Za-z0-9:_.-]{1,128}$');
  if (!Array.isArray(o.roles) || !o.roles.every(isLeaderRole)) {
    return fail('roles: expected a list of reconcile | brain-poller');
  }
  if (typeof o.version !== 'string') return fail('version: expected a string');
  if (typeof o.started_ms !== 'number' || !Number.isSafeInteger(o.started_ms) || o.started_ms < 0) {
    return fail('started_ms: expected integer milliseconds');
  }
  if (o.epoch !== null && !isEpoch(o.epoch))
    return fail('epoch: expected a positive integer or null');
  if (!Array.isArray(o.leader_of)) return fail('leader_of: expected a list');
  const leaderOf: Leadership[] = [];
  for (const entry of o.leader_of as unknown[]) {
    const l = entry as Record<string, unknown> | null;
    if (l === null || typeof l !== 'object' || !isLeaderRole(l.role) || !isEpoch(l.epoch)) {
      return fail('leader_of: expected [{role, epoch}]');
    }
    leaderOf.push({ role: l.role, epoch: l.epoch });
  }
  const record = presenceRecord(
    {
      service: o.service,
      id: o.id,
      roles: o.roles,
      version: o.version,
      started_ms: o.started_ms,
    },
    leaderOf,
  );
  if (record.epoch !== o.epoch) return fail('epoch: does not match leader_of');
  return { ok: true, record };
}
