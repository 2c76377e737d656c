/**
 * Every Redis key posguard reads or writes is built here (SPEC §1). Symbols and plan ids
 * are validated before they become part of a key name; a bad one throws rather than
 * building a key like `quantum:position:ledger:BTCUSDT:*` (no key injection).
 */
import { isPlanId, isStreamId, isSymbol } from '../domain/identifiers.js';
import {
  isInstanceId,
  isLeaderRole,
  isServiceName,
  type LeaderRole,
} from '../domain/leadership.js';
import { PosguardError } from '../errors.js';

function symbol(value: string): string {
  if (!isSymbol(value))
    throw new PosguardError(
      'USAGE',
      `invalid symbol ${JSON.stringify(value)}: expected ^[A-Z0-9]{2,32}$`,
    );
  return value;
}

function plan(value: string): string {
  if (!isPlanId(value)) {
    throw new PosguardError(
      'USAGE',
      `invalid plan id ${JSON.stringify(value)}: expected ^[A-Za-z0-9:_.-]{1,128}$`,
    );
  }
  return value;
}

/**
 * Order ids as they become part of a key: what exchanges and executors use (Binance's
 * numeric orderId; client ids of letters, digits and `:_.-`). Any other id gets no key.
 */
const ORDER_ID_RE = /^[A-Za-z0-9:_.-]{1,64}$/;

export function isKeySafeOrderId(value: unknown): value is string {
  return typeof value === 'string' && ORDER_ID_RE.test(value);
}

function orderId(value: string): string {
  if (!isKeySafeOrderId(value)) {
    throw new PosguardError(
      'USAGE',
      `invalid order id ${JSON.stringify(value)}: expected ^[A-Za-z0-9:_.-]{1,64}$`,
    );
  }
  return value;
}

function entry(value: string): string {
  if (!isStreamId(value))
    throw new PosguardError('USAGE', `invalid stream id ${JSON.stringify(value)}`);
  return value;
}

function leaderRole(value: string): LeaderRole {
  if (!isLeaderRole(value))
    throw new PosguardError(
      'USAGE',
      `invalid leader role ${JSON.stringify(value)}: expected reconcile or brain-poller`,
    );
  return value;
}

function instanceId(value: string): string {
  if (!isInstanceId(value)) {
    throw new PosguardError(
      'USAGE',
      `invalid instance id ${JSON.stringify(value)}: expected ^[A-Za-z0-9:_.-]{1,128}$ (POSGUARD_INSTANCE_ID)`,
    );
  }
  return value;
}

function service(value: string): string {
  if (!isServiceName(value))
    throw new PosguardError(
      'USAGE',
      `invalid service name ${JSON.stringify(value)}: expected ^[a-z][a-z0-9-]{0,31}$`,
    );
  return value;
}

export interface Keys {
  readonly prefix: string;
  // Contract keys shared with the seeds' services (SPEC §1).
  snapshot(sym: string): string;
  ledger(sym: string): string;
  applyPlanStream: string;
  applyResultStream: string;
  permitP33(planId: string): string;
  permitGovernor(planId: string): string;
  hold(sym: string): string;
  reconcileState(sym: string): string;
  reconcileEventsStream: string;
  reconcileHeartbeat: string;
  // posguard's own keys, all under P:posguard:…
  symbolLotSize(sym: string): string;
  planSeen(planId: string): string;
  resultApplied(entryId: string): string;
  evidenceUsed(entryId: string): string;
  /**
   * The order was accounted in the ledger by a repair from its unconfirmed record: a
   * confirmed fill of it is never applied again. Per symbol (Binance order ids are unique
   * per symbol only).
   */
  orderAccounted(sym: string, orderId: string): string;
  holdOwner(sym: string): string;
  brainHeartbeat: string;
  /** Pub/sub channel: the brain publishes a symbol whose snapshot amount changed. */
  snapshotChangedChannel: string;
  /**
   * Pub/sub channel: a brain that applied a fill but does not lead `brain-poller` asks the
   * leader to refresh the symbol's snapshot (message: the symbol).
   */
  snapshotRefreshChannel: string;
  // Several instances (SPEC §11).
  /** Presence record of one instance (JSON, short TTL): `P:posguard:instance:<service>:<id>`. */
  instance(serviceName: string, id: string): string;
  /** What every presence key starts with (for SCAN). */
  instanceKeyPrefix: string;
  /** The role's lease: the leader's instance id, `SET NX PX`. */
  lease(role: LeaderRole): string;
  /** The role's epoch counter (the last epoch handed out). */
  epoch(role: LeaderRole): string;
  /** The role's fence: the current leader's epoch; write scripts refuse a lower one. */
  fence(role: LeaderRole): string;
}

export function buildKeys(
  prefix: string,
  governorTemplate = '{prefix}:permit:governor:{plan_id}',
): Keys {
  const own = `${prefix}:posguard`;
  return {
    prefix,
    snapshot: (sym) => `${prefix}:position:snapshot:${symbol(sym)}`,
    ledger: (sym) => `${prefix}:position:ledger:${symbol(sym)}`,
    applyPlanStream: `${prefix}:stream:apply.plan`,
    applyResultStream: `${prefix}:stream:apply.result`,
    permitP33: (id) => `${prefix}:permit:p33:${plan(id)}`,
    permitGovernor: (id) =>
      governorTemplate.replaceAll('{prefix}', prefix).replaceAll('{plan_id}', plan(id)),
    hold: (sym) => `${prefix}:reconcile:hold:${symbol(sym)}`,
    reconcileState: (sym) => `${prefix}:reconcile:state:${symbol(sym)}`,
    reconcileEventsStream: `${prefix}:stream:reconcile.events`,
    reconcileHeartbeat: `${prefix}:reconcile:heartbeat`,
    symbolLotSize: (sym) => `${own}:symbol:${symbol(sym)}`,
    planSeen: (id) => `${own}:plan:seen:${plan(id)}`,
    resultApplied: (id) => `${own}:result:applied:${entry(id)}`,
    evidenceUsed: (id) => `${own}:evidence:used:${entry(id)}`,
    orderAccounted: (sym, id) => `${own}:order:accounted:${symbol(sym)}:${orderId(id)}`,
    holdOwner: (sym) => `${own}:hold:owner:${symbol(sym)}`,
    brainHeartbeat: `${own}:brain:heartbeat`,
    snapshotChangedChannel: `${own}:snapshot:changed`,
    snapshotRefreshChannel: `${own}:snapshot:refresh`,
    instance: (svc, id) => `${own}:instance:${service(svc)}:${instanceId(id)}`,
    instanceKeyPrefix: `${own}:instance:`,
    lease: (role) => `${own}:lease:${leaderRole(role)}`,
    epoch: (role) => `${own}:epoch:${leaderRole(role)}`,
    fence: (role) => `${own}:fence:${leaderRole(role)}`,
  };
}
