/**
 * Instances, leaders, epochs and fences as an operator sees them (SPEC §11): the one
 * judgement behind `posguard status`, `posguard doctor` and the web page. The reader
 * (src/redis/ha/instances-reader.ts) hands in what Redis holds — every presence record and,
 * per role, the lease, the epoch counter and the fence, each as a raw read with its TTL —
 * and this decides, without I/O:
 *
 * - per instance: its decoded record (src/domain/presence.ts), or the problem that stops it
 *   from decoding (not JSON, a hash, a key name that is not `<service>:<id>`, …);
 * - per role: `leader` (the lease names an instance whose record claims the role at an
 *   epoch equal to the fence), `none` (no lease), or `problem` with the reasons;
 * - findings for `doctor`, each FAIL (the role cannot work, or is unsafe) or WARN (it works,
 *   something is stale or odd), with the fix.
 *
 * Epoch counter and fence are read the way `lease_acquire.lua` reads them (`^%d+$`, at most
 * 14 digits): a value the script refuses is a problem here too. The fix this module gives
 * for a broken epoch or fence is always "set it to an integer above every epoch handed
 * out, never lower": a fence below a paused leader's epoch lets that leader's writes
 * through (LESSONS #24). The number it suggests is above every epoch it saw and above the
 * clock in ms (`lease_acquire` hands out max(epoch, fence, Redis TIME in ms) + 1, so no
 * epoch handed out is far above the clock).
 */
import { INSTANCE_ID_RE, isInstanceId, isServiceName, type LeaderRole } from './leadership.js';
import { decodePresence, type PresenceRecord } from './presence.js';

/** One string key as read: missing, a string with its TTL (null = no expiry), or another type. */
export type KeyRead =
  | { readonly kind: 'missing' }
  | { readonly kind: 'string'; readonly value: string; readonly ttlMs: number | null }
  | { readonly kind: 'wrong_type'; readonly found: string };

export interface NamedRead {
  readonly key: string;
  readonly read: KeyRead;
}

/** A presence key found by SCAN: `suffix` is what follows `P:posguard:instance:`. */
export interface PresenceKeyRead extends NamedRead {
  readonly suffix: string;
}

export interface RoleKeysRead {
  readonly role: LeaderRole;
  readonly lease: NamedRead;
  readonly epoch: NamedRead;
  readonly fence: NamedRead;
}

export interface HaKeysRead {
  readonly presence: readonly PresenceKeyRead[];
  readonly roles: readonly RoleKeysRead[];
  /** More presence keys exist than the reader reads. */
  readonly truncated: boolean;
}

export interface InstanceState {
  readonly key: string;
  /** From the record when it decodes, else from the key name. */
  readonly service: string;
  readonly id: string;
  /** The record's remaining TTL; null = it never expires. */
  readonly ttl_ms: number | null;
  /** Null when it does not decode. */
  readonly record: PresenceRecord | null;
  readonly problem: string | null;
}

export interface Claim {
  readonly id: string;
  readonly epoch: number;
}

export interface RoleState {
  readonly role: LeaderRole;
  readonly state: 'leader' | 'none' | 'problem';
  /** Why `problem` (empty otherwise). */
  readonly problems: readonly string[];
  /** The lease's value: the leader's instance id. */
  readonly holder: string | null;
  /** The lease's PTTL; null without a lease or without expiry. */
  readonly lease_ttl_ms: number | null;
  /** Time since the lease was last set (lease length − PTTL); null when unknown. */
  readonly lease_age_ms: number | null;
  /** The epoch counter and the fence; null when missing or unreadable. */
  readonly epoch: number | null;
  readonly fence: number | null;
  /** The epoch the lease holder's record claims for the role. */
  readonly leader_epoch: number | null;
  /** Instances whose records campaign for the role. */
  readonly campaigners: readonly string[];
  /** Instances whose records say they lead the role, with their epochs. */
  readonly claims: readonly Claim[];
}

export type FindingLevel = 'fail' | 'warn';

export interface HaFinding {
  readonly level: FindingLevel;
  /** What the finding is about: a role, a presence key, or `instances`. */
  readonly subject: string;
  /** What is wrong (without the subject). */
  readonly text: string;
  /** What to do about it. */
  readonly fix: string;
}

export interface HaState {
  readonly instances: readonly InstanceState[];
  readonly roles: readonly RoleState[];
  readonly findings: readonly HaFinding[];
  readonly truncated: boolean;
}

/**
 * A value from Redis as a finding shows it: an instance id as it is, anything else (a lease
 * written by hand) quoted, cut and with control characters escaped.
 */
export function shownId(value: string): string {
  return INSTANCE_ID_RE.test(value) ? value : quoted(value);
}

/** Any value from Redis in a message: quoted, cut at 40, control characters escaped. */
function quoted(value: string): string {
  const json: string = JSON.stringify(value.slice(0, 40));
  return json.replace(
    /[\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** An epoch counter or fence value as `lease_acquire.lua` accepts it, else null. */
export function epochValue(raw: string): number | null {
  return /^\d{1,14}$/.test(raw) ? Number(raw) : null;
}

/** Nothing of several instances exists: no presence record and no lease, epoch or fence key. */
export function nothingToShow(read: HaKeysRead): boolean {
  return (
    read.presence.every((p) => p.read.kind === 'missing') &&
    read.roles.every((r) => [r.lease, r.epoch, r.fence].every((k) => k.read.kind === 'missing'))
  );
}

/** `<service>:<id>` of a presence key's suffix, or null when it is not one. */
function keyIdentity(suffix: string): { service: string; id: string } | null {
  const at = suffix.indexOf(':');
  if (at === -1) return null;
  const service = suffix.slice(0, at);
  const id = suffix.slice(at + 1);
  return isServiceName(service) && isInstanceId(id) ? { service, id } : null;
}

/** One presence key; null when it expired between SCAN and the read. Never throws. */
export function judgeInstance(p: PresenceKeyRead): InstanceState | null {
  const { read } = p;
  if (read.kind === 'missing') return null;
  const named = keyIdentity(p.suffix);
  const fromKey = { key: p.key, service: named?.service ?? p.suffix, id: named?.id ?? '' };
  if (read.kind === 'wrong_type')
    return { ...fromKey, ttl_ms: null, record: null, problem: `a ${read.found}, not a string` };
  const decoded = decodePresence(read.value);
  if (!decoded.ok)
    return { ...fromKey, ttl_ms: read.ttlMs, record: null, problem: decoded.problem };
  const { record } = decoded;
  const problem =
    named === null
      ? 'key name: expected …:instance:<service>:<id>'
      : record.service !== named.service || record.id !== named.id
        ? `the record names ${record.service}:${record.id}, its key ${p.suffix}`
        : read.ttlMs === null
          ? 'no TTL: the record outlives its instance'
          : null;
  return {
    key: p.key,
    service: record.service,
    id: record.id,
    ttl_ms: read.ttlMs,
    record,
    problem,
  };
}

function instanceFinding(instance: InstanceState): HaFinding | null {
  if (instance.problem === null) return null;
  return {
    level: 'warn',
    subject: instance.key,
    text: instance.problem,
    fix:
      `not written by a posguard instance of this version: \`redis-cli DEL ${instance.key}\` ` +
      '(a live instance rewrites its record within lease/3)',
  };
}

interface CounterRead {
  value: number | null;
  findings: HaFinding[];
}

/**
 * The epoch counter or the fence: its value, or a FAIL saying how to set it. `suggest` is
 * above every epoch this read saw handed out.
 */
function counter(
  role: LeaderRole,
  what: 'epoch counter' | 'fence',
  k: NamedRead,
  suggest: () => number,
): CounterRead {
  const fail = (text: string, fix: string): CounterRead => ({
    value: null,
    findings: [{ level: 'fail', subject: role, text, fix }],
  });
  const setIt = (): string =>
    `\`redis-cli SET ${k.key} ${suggest()}\` — an integer above every epoch handed out; ` +
    'never lower it, never DEL it';
  if (k.read.kind === 'missing') return { value: null, findings: [] };
  if (k.read.kind === 'wrong_type')
    return fail(
      `the ${what} ${k.key} is a ${k.read.found}, not a string: nobody can take the lease`,
      setIt(),
    );
  const value = epochValue(k.read.value);
  if (value === null)
    return fail(
      `the ${what} ${k.key} holds ${quoted(k.read.value)}, not an integer: ` +
        (what === 'fence' ? 'every write of the role is refused and ' : '') +
        'nobody can take the lease',
      setIt(),
    );
  if (k.read.ttlMs !== null)
    return {
      value,
      findings: [
        {
          level: 'fail',
          subject: role,
          text:
            `the ${what} ${k.key} expires in ${k.read.ttlMs} ms: when it goes, epochs start ` +
            'again below those handed out and a paused old leader can write',
          fix: `\`redis-cli PERSIST ${k.key}\``,
        },
      ],
    };
  return { value, findings: [] };
}

function leaseRead(
  role: LeaderRole,
  k: NamedRead,
  leaseMs: number | null,
): {
  holder: string | null;
  ttl: number | null;
  age: number | null;
  blocked: boolean;
  findings: HaFinding[];
} {
  const none = { holder: null, ttl: null, age: null, blocked: false, findings: [] };
  if (k.read.kind === 'missing') return none;
  if (k.read.kind === 'wrong_type')
    return {
      ...none,
      blocked: true,
      findings: [
        {
          level: 'fail',
          subject: role,
          text: `the lease ${k.key} is a ${k.read.found}, not a string: nobody can lead`,
          fix: `\`redis-cli DEL ${k.key}\`; an instance takes the lease within lease/3`,
        },
      ],
    };
  const holder = k.read.value;
  const ttl = k.read.ttlMs;
  if (ttl === null)
    return {
      holder,
      ttl: null,
      age: null,
      blocked: true,
      findings: [
        {
          level: 'fail',
          subject: role,
          text: `the lease ${k.key} (${shownId(holder)}) has no expiry: it was written by hand, and blocks the role until it goes`,
          fix: `\`redis-cli DEL ${k.key}\`; an instance takes the lease within lease/3`,
        },
      ],
    };
  const age = leaseMs !== null && leaseMs - ttl >= 0 ? leaseMs - ttl : null;
  return { holder, ttl, age, blocked: false, findings: [] };
}

function claimFindings(
  role: LeaderRole,
  claims: readonly Claim[],
  fence: number | null,
  fenceKey: string,
): HaFinding[] {
  const findings: HaFinding[] = [];
  for (const claim of claims) {
    if (fence === null) continue;
    if (claim.epoch < fence)
      findings.push({
        level: 'warn',
        subject: role,
        text:
          `${claim.id} claims the role at epoch ${claim.epoch}, below the fence ${fence}: ` +
          'a stale claim (a paused or fenced leader, or a record not yet rewritten); its writes are refused',
        fix: `if it stays longer than a lease: look at ${claim.id}'s journal, restart it`,
      });
    if (claim.epoch > fence)
      findings.push({
        level: 'fail',
        subject: role,
        text:
          `${claim.id} claims the role at epoch ${claim.epoch}, above the fence ${fence}: ` +
          'the fence was lowered, so older leaders can write again',
        fix: `\`redis-cli SET ${fenceKey} ${claim.epoch}\` (or higher); never lower the fence`,
      });
  }
  if (claims.length > 1)
    findings.push({
      level: 'warn',
      subject: role,
      text: `${claims.length} instances claim the role (${claims.map((c) => `${c.id}@${c.epoch}`).join(', ')})`,
      fix: 'the one named by the lease at the fence epoch leads; the others are stale — if that lasts longer than a lease, restart them',
    });
  return findings;
}

function holderFindings(
  role: LeaderRole,
  holder: string,
  leaseKey: string,
  instances: readonly InstanceState[],
  claims: readonly Claim[],
): HaFinding[] {
  if (!instances.some((i) => i.record?.id === holder))
    return [
      {
        level: 'warn',
        subject: role,
        text:
          `the lease names ${shownId(holder)}, which has no presence record ` +
          '(an instance without presence records, a record that expired, or a lease written by hand)',
        fix: `if no instance ${shownId(holder)} runs: \`redis-cli DEL ${leaseKey}\`; an instance takes the lease within lease/3`,
      },
    ];
  if (!claims.some((c) => c.id === holder))
    return [
      {
        level: 'warn',
        subject: role,
        text: `${holder} holds the lease but its presence record does not claim the role (elected in the last lease/3?)`,
        fix: `run again; if it stays, look at ${holder}'s journal`,
      },
    ];
  return [];
}

/** One role: the lease, counters and claims judged together. */
export function judgeRole(
  keys: RoleKeysRead,
  instances: readonly InstanceState[],
  clock: HaClock,
): { state: RoleState; findings: HaFinding[] } {
  const { role } = keys;
  const records = instances.flatMap((i) => (i.record === null ? [] : [i.record]));
  const campaigners = [...new Set(records.filter((r) => r.roles.includes(role)).map((r) => r.id))];
  const claims: Claim[] = records.flatMap((r) =>
    r.leader_of.filter((l) => l.role === role).map((l) => ({ id: r.id, epoch: l.epoch })),
  );
  const lease = leaseRead(role, keys.lease, clock.leaseMs);
  const seen = (): number[] => [
    ...claims.map((c) => c.epoch),
    ...[keys.epoch, keys.fence].flatMap((k) =>
      k.read.kind === 'string' ? [epochValue(k.read.value) ?? 0] : [],
    ),
  ];
  const suggest = (): number => Math.max(clock.nowMs, ...seen()) + 1;
  const epoch = counter(role, 'epoch counter', keys.epoch, suggest);
  const fence = counter(role, 'fence', keys.fence, suggest);
  const findings: HaFinding[] = [...lease.findings, ...epoch.findings, ...fence.findings];
  if (keys.fence.read.kind === 'missing' && lease.holder !== null)
    findings.push({
      level: 'fail',
      subject: role,
      text: `the fence ${keys.fence.key} is missing while ${shownId(lease.holder)} holds the lease: every write of the role is refused`,
      fix: `\`redis-cli SET ${keys.fence.key} ${suggest()}\` — above every epoch handed out; never lower`,
    });
  if (epoch.value !== null && fence.value !== null && epoch.value < fence.value)
    findings.push({
      level: 'warn',
      subject: role,
      text: `the epoch counter ${epoch.value} is below the fence ${fence.value} (lowered by hand?)`,
      fix: `\`redis-cli SET ${keys.epoch.key} ${fence.value}\`; never lower either`,
    });
  findings.push(...claimFindings(role, claims, fence.value, keys.fence.key));
  if (lease.holder !== null)
    findings.push(...holderFindings(role, lease.holder, keys.lease.key, instances, claims));
  // The role's problems: everything found so far (no leader alone is `none`, not a problem).
  const problems = findings.map((f) => f.text);
  if (lease.holder === null && !lease.blocked && campaigners.length > 0)
    findings.push({
      level: 'fail',
      subject: role,
      text: `no leader, while ${campaigners.length} instance${campaigners.length === 1 ? '' : 's'} campaign for it (${campaigners.join(', ')})`,
      fix: 'a takeover takes about one lease: run again; if it stays, see docs/operations.md#no-leader',
    });
  const leaderEpoch = claims.find((c) => c.id === lease.holder)?.epoch ?? null;
  return {
    state: {
      role,
      state: problems.length > 0 ? 'problem' : lease.holder !== null ? 'leader' : 'none',
      problems,
      holder: lease.holder,
      lease_ttl_ms: lease.ttl,
      lease_age_ms: lease.age,
      epoch: epoch.value,
      fence: fence.value,
      leader_epoch: leaderEpoch,
      campaigners,
      claims,
    },
    findings,
  };
}

/** What the judgement needs to know besides the keys. */
export interface HaClock {
  /** `POSGUARD_LEASE_MS`, for a lease's age; null when unknown. */
  readonly leaseMs: number | null;
  /** Now in ms (the floor of a suggested epoch or fence). */
  readonly nowMs: number;
}

/** Everything read, judged. */
export function judgeHa(read: HaKeysRead, clock: HaClock): HaState {
  const instances = read.presence
    .flatMap((p) => {
      const judged = judgeInstance(p);
      return judged === null ? [] : [judged];
    })
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const findings: HaFinding[] = [];
  const roles = read.roles.map((keys) => {
    const judged = judgeRole(keys, instances, clock);
    findings.push(...judged.findings);
    return judged.state;
  });
  for (const instance of instances) {
    const finding = instanceFinding(instance);
    if (finding !== null) findings.push(finding);
  }
  if (read.truncated)
    findings.push({
      level: 'warn',
      subject: 'instances',
      text: `more presence records than shown (${instances.length})`,
      fix: 'look for records written by hand: `redis-cli --scan --pattern "<prefix>:posguard:instance:*"`',
    });
  return { instances, roles, findings, truncated: read.truncated };
}
