/**
 * Several instances on one machine (SPEC §11), as operators run them: N brains and M
 * reconcile engines, each a child process of the built CLI (cli-process.ts) with its own
 * POSGUARD_INSTANCE_ID and metrics port, against one Redis (a URL, or a Sentinel set-up:
 * redis-sentinel.ts) under a key prefix of its own, the brains polling the simulated venue
 * (venue/). For the HA tests, the demo and the benchmarks.
 *
 * Faults: `kill` (SIGKILL, SIGTERM), `pause`/`resume` (SIGSTOP/SIGCONT), `restart` (same
 * id, port and env). Looks: `leaderOf(role)` (the lease key), `presence`, `heartbeat`,
 * `scrape` (/metrics), and `ownerOf` — which instance holds a Redis connection, from the
 * connection's port (proc-sockets.ts; kept for connections that closed since).
 *
 * `stop()` ends every process with SIGTERM and reports how each exited.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { loadConfig } from '../config/config.js';
import type { LeaderRole } from '../domain/leadership.js';
import { type PresenceDecoded, decodePresence } from '../domain/presence.js';
import { createRedis, waitForReady } from '../redis/connection.js';
import { type Keys, buildKeys } from '../redis/keys.js';
import { type ServiceProcess, snapshotBuild } from './cli-process.js';
import { parseCounter } from './demo/observer.js';
import {
  HA_API_KEY,
  HA_API_SECRET,
  type HaClusterOptions,
  type HaMember,
  Member,
  START_TIMEOUT_MS,
  clusterEnv,
} from './ha-member.js';
import { ConnectionOwners } from './proc-sockets.js';
import { waitFor } from './redis-process.js';
import { freePort } from './redis-server.js';
import { type Venue, startVenue } from './venue/venue.js';

export type { HaClusterOptions, HaMember, HaRedis, HaService } from './ha-member.js';

export interface HaExit {
  id: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

const DEFAULT_POSITIONS = { BTCUSDT: '0.05', ETHUSDT: '1.2' };
const STOP_TIMEOUT_MS = 10_000;

export interface ReconcileHeartbeatSeen {
  ts_ms: number;
  pid: number;
  /** Set once the engine names itself in its heartbeat (SPEC §11). */
  instance?: string;
  epoch?: number;
}

export class HaCluster {
  readonly keys: Keys;
  readonly members: readonly HaMember[];
  /** Which instance held each Redis connection (by its port); null with `ownerScan: false`. */
  private readonly owners: ConnectionOwners | null;
  private readonly onExit = (): void => {
    for (const m of this.all) if (m.process.running()) m.process.child.kill('SIGKILL');
  };

  private constructor(
    readonly keyPrefix: string,
    readonly venue: Venue,
    /** The cluster's own connection (leases, presence, heartbeat reads). */
    readonly redis: Redis,
    private readonly all: readonly Member[],
    private readonly cleanups: (() => Promise<void> | void)[],
    ownerScan: boolean,
  ) {
    this.keys = buildKeys(keyPrefix);
    this.members = all;
    this.owners = !ownerScan
      ? null
      : new ConnectionOwners(() =>
          all.flatMap((m) =>
            m.incarnations
              .filter((p) => p.running() && p.child.pid !== undefined)
              .map((p) => ({ owner: m.id, pid: p.child.pid as number })),
          ),
        );
    process.once('exit', this.onExit);
  }

  static async start(options: HaClusterOptions): Promise<HaCluster> {
    const cleanups: (() => Promise<void> | void)[] = [];
    const undo = async (): Promise<void> => {
      for (const c of cleanups.reverse()) await c();
    };
    try {
      const positions = options.positions ?? DEFAULT_POSITIONS;
      const symbols = Object.keys(positions);
      const venue = await startVenue({ apiKey: HA_API_KEY, apiSecret: HA_API_SECRET, symbols });
      cleanups.push(() => venue.close());
      for (const [symbol, amount] of Object.entries(positions))
        venue.control.setPosition(symbol, amount);
      let cli = options.cli;
      if (cli === undefined) {
        const build = snapshotBuild();
        cleanups.push(() => build.remove());
        cli = build.cli;
      }
      const keyPrefix = options.keyPrefix ?? `ha${randomBytes(5).toString('hex')}`;
      const env = clusterEnv(options, keyPrefix, venue, symbols);
      const redis = createRedis(loadConfig(env).redis, { name: 'posguard-ha-cluster' });
      redis.on('error', () => undefined);
      cleanups.push(() => redis.disconnect());
      await waitForReady(redis, START_TIMEOUT_MS);
      const members: Member[] = [];
      for (const [service, count] of [
        ['brain', options.brains],
        ['reconcile', options.engines],
      ] as const) {
        for (let i = 1; i <= count; i += 1) {
          const id = `${service}-${i}`;
          const port = String(await freePort());
          const own = {
            POSGUARD_INSTANCE_ID: id,
            P33_METRICS_PORT: port,
            P34_PROMETHEUS_PORT: port,
          };
          const mine = options.memberEnv?.[id] ?? {};
          members.push(new Member(id, service, Number(port), { ...env, ...own, ...mine }, cli));
        }
      }
      const cluster = new HaCluster(
        keyPrefix,
        venue,
        redis,
        members,
        cleanups,
        options.ownerScan ?? true,
      );
      cleanups.push(() => cluster.killAll());
      members.forEach((m) => m.start());
      await Promise.all(members.map((m) => m.started()));
      await cluster.settled(symbols);
      return cluster;
    } catch (error) {
      await undo();
      throw error;
    }
  }

  member(id: string): HaMember {
    return this.find(id);
  }

  /** Sends `signal` and waits for the exit (a paused process is continued for SIGTERM). */
  async kill(id: string, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<HaExit> {
    const m = this.find(id);
    this.owners?.refresh();
    const proc = m.process;
    if (proc.running()) {
      proc.child.kill(signal);
      if (m.paused) proc.child.kill('SIGCONT');
    }
    m.paused = false;
    const exit = await proc.exited;
    return { id, ...exit };
  }

  /** SIGSTOP: the process keeps its connections and answers nothing. */
  pause(id: string): void {
    const m = this.find(id);
    this.owners?.refresh();
    m.process.child.kill('SIGSTOP');
    m.paused = true;
  }

  resume(id: string): void {
    const m = this.find(id);
    m.process.child.kill('SIGCONT');
    m.paused = false;
  }

  /** Starts a new incarnation (same id, port, env) once the last one has ended. */
  async restart(id: string): Promise<ServiceProcess> {
    const m = this.find(id);
    const proc = m.start();
    await m.started();
    return proc;
  }

  /** The instance the role's lease names, or null. */
  leaderOf(role: LeaderRole): Promise<string | null> {
    return this.redis.get(this.keys.lease(role));
  }

  /** Waits until the lease names one of the members, other than `not`. */
  waitForLeader(role: LeaderRole, not?: string, timeoutMs = START_TIMEOUT_MS): Promise<string> {
    return waitFor(`a ${role} leader${not ? ` other than ${not}` : ''}`, timeoutMs, async () => {
      const holder = await this.leaderOf(role);
      if (holder === null || holder === not || !this.all.some((m) => m.id === holder))
        throw new Error(`lease names ${holder ?? 'nobody'}`);
      return holder;
    });
  }

  /** The instance's presence record, decoded. */
  async presence(id: string): Promise<PresenceDecoded> {
    const m = this.find(id);
    return decodePresence(await this.redis.get(this.keys.instance(m.service, id)));
  }

  /** The reconcile heartbeat as the leader wrote it, or null when absent. */
  async heartbeat(): Promise<ReconcileHeartbeatSeen | null> {
    const raw = await this.redis.get(this.keys.reconcileHeartbeat);
    return raw === null ? null : (JSON.parse(raw) as ReconcileHeartbeatSeen);
  }

  /**
   * Waits until `id` writes the reconcile heartbeat (the last write of a full cycle) after
   * `afterMs`; the heartbeat names it by instance id or — a build whose heartbeat does not
   * name its writer — by the pid of its current incarnation. Resolves with that heartbeat.
   */
  waitForHeartbeat(
    id: string,
    afterMs: number,
    timeoutMs = 15_000,
  ): Promise<ReconcileHeartbeatSeen> {
    const pid = this.find(id).process.child.pid;
    return waitFor(`a heartbeat from ${id} after ${afterMs}`, timeoutMs, async () => {
      const hb = await this.heartbeat();
      if (hb === null || hb.ts_ms <= afterMs) throw new Error('no newer heartbeat');
      const mine = hb.instance === undefined ? hb.pid === pid : hb.instance === id;
      if (!mine) throw new Error(`the heartbeat names ${hb.instance ?? `pid ${hb.pid}`}`);
      return hb;
    });
  }

  /**
   * Waits until `id` shows it no longer leads `role`: `posguard_leader{role}` 0 and, with
   * `presence` (default), a presence record that claims nothing (an instance whose Redis
   * connections are held cannot write it: then the metric alone).
   */
  waitForStandby(
    id: string,
    role: LeaderRole,
    { presence = true, timeoutMs = 20_000 }: { presence?: boolean; timeoutMs?: number } = {},
  ): Promise<void> {
    return waitFor(`${id} to show it no longer leads ${role}`, timeoutMs, async () => {
      const leading = await this.metric(id, 'posguard_leader', { role }).catch(() => null);
      if (leading !== 0) throw new Error(`posguard_leader ${leading}`);
      if (!presence) return;
      const p = await this.presence(id);
      if (!p.ok || p.record.leader_of.some((l) => l.role === role))
        throw new Error('its presence record still claims the role');
    });
  }

  /** The instance's /metrics text (throws when its endpoint does not answer). */
  async scrape(id: string): Promise<string> {
    const m = this.find(id);
    const res = await fetch(`http://127.0.0.1:${m.metricsPort}/metrics`, {
      signal: AbortSignal.timeout(3000),
    });
    if (!res.ok) throw new Error(`${id} /metrics answered ${res.status}`);
    return res.text();
  }

  /** One sample of a scraped metric (`posguard_leader`, `{role: 'reconcile'}`), null when absent. */
  async metric(
    id: string,
    name: string,
    labels: Record<string, string> = {},
  ): Promise<number | null> {
    const text = Object.entries(labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',');
    return parseCounter(await this.scrape(id), name).get(text === '' ? '' : `{${text}}`) ?? null;
  }

  /**
   * The member holding the Redis connection at `client` (`host:port`, as CLIENT LIST and
   * MONITOR show it), or null when no instance was seen holding it.
   */
  ownerOf(client: string): string | null {
    if (this.owners === null)
      throw new Error('ownerOf: this cluster was started with ownerScan: false');
    return this.owners.ownerOf(client);
  }

  /** SIGTERM to every running instance; how each one's last incarnation exited. */
  async stop(): Promise<HaExit[]> {
    const exits = await Promise.all(
      this.all.map(async (m): Promise<HaExit> => {
        const proc = m.process;
        if (!proc.running()) return { id: m.id, ...(await proc.exited) };
        const timer = setTimeout(() => proc.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        const exit = await this.kill(m.id, 'SIGTERM');
        clearTimeout(timer);
        return exit;
      }),
    );
    await this.close();
    return exits;
  }

  private async close(): Promise<void> {
    this.owners?.stop();
    process.off('exit', this.onExit);
    for (const cleanup of this.cleanups.splice(0).reverse()) await cleanup();
  }

  private async killAll(): Promise<void> {
    const running = this.all.filter((m) => m.process.running());
    await Promise.all(running.map((m) => this.kill(m.id)));
  }

  private find(id: string): Member {
    const m = this.all.find((x) => x.id === id);
    if (m === undefined) throw new Error(`no instance ${id} in this cluster`);
    return m;
  }

  /** Leaders elected; the engine has initialised every ledger and heartbeats; snapshots and lot sizes exist. */
  private async settled(symbols: readonly string[]): Promise<void> {
    const brains = this.all.some((m) => m.service === 'brain');
    const engines = this.all.some((m) => m.service === 'reconcile');
    if (brains) await this.waitForLeader('brain-poller');
    if (engines) await this.waitForLeader('reconcile');
    await waitFor('the cluster to reach a steady state', START_TIMEOUT_MS, async () => {
      for (const symbol of symbols) {
        const [snapshot, lots, ledger] = await Promise.all([
          this.redis.exists(this.keys.snapshot(symbol)),
          this.redis.exists(this.keys.symbolLotSize(symbol)),
          this.redis.exists(this.keys.ledger(symbol)),
        ]);
        if (brains && (snapshot === 0 || lots === 0)) throw new Error(`no snapshot of ${symbol}`);
        if (brains && engines && ledger === 0) throw new Error(`no ledger of ${symbol}`);
      }
      if (engines && (await this.heartbeat()) === null) throw new Error('no reconcile heartbeat');
    });
  }
}
