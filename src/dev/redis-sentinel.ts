/**
 * A private Redis Sentinel set-up (SPEC §11): a master, a replica and three sentinels
 * (`redis-server --sentinel`, quorum 2), each on a free port, all in one temporary
 * directory. Short timings (down-after 1000 ms, failover-timeout 2000 ms) so a failover
 * completes within seconds. For tests, the demo and benchmarks — never the shared
 * 6379/26379. `stop()` — and a failed start — kills every process and removes the
 * directory. redis-server is found as in redis-server.ts (PATH or REDIS_SERVER_BIN).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PosguardError } from '../errors.js';
import { freePort, redisServerBinary } from './redis-server.js';
import { dataNodeConfig, sentinelConfig, type SentinelTimings } from './redis-sentinel-conf.js';
import {
  ask,
  fieldsOf,
  GaveUp,
  LOCALHOST,
  RedisProcess,
  replicationInfo,
  waitFor,
  type RedisAddress,
} from './redis-process.js';

export type { RedisAddress } from './redis-process.js';

export interface SentinelSetupOptions extends SentinelTimings {
  /** The monitored master's name (REDIS_SENTINEL_MASTER). Default `posguard`. */
  masterName?: string;
  /** The data nodes' password (requirepass + masterauth; the sentinels' auth-pass). */
  password?: string;
  /** The sentinels' own password (their requirepass; REDIS_SENTINEL_PASSWORD). */
  sentinelPassword?: string;
}

export interface SentinelNode {
  readonly name: string;
  readonly port: number;
  /** The PID it was started with (kept after it ended). */
  readonly pid: number;
  readonly running: boolean;
  /** SIGSTOPped by `pause()`. */
  readonly paused: boolean;
}

export interface SentinelSetup {
  readonly masterName: string;
  readonly dir: string;
  /** The sentinels as REDIS_SENTINELS takes them: `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`. */
  readonly sentinelList: string;
  /** [0] started as the master, [1] as its replica. */
  readonly dataNodes: readonly SentinelNode[];
  readonly sentinels: readonly SentinelNode[];
  /** The PIDs of all five processes as started (also of those that ended). */
  pids(): number[];
  /**
   * SIGSTOPs a node or a sentinel (a hung host: its sockets stay open, nothing answers);
   * `resume()` continues it. A paused sentinel is left out of `masterAddress()`.
   */
  pause(node: SentinelNode): void;
  resume(node: SentinelNode): void;
  /** The master every running, unpaused sentinel reports (throws when they disagree). */
  masterAddress(): Promise<RedisAddress>;
  /**
   * SENTINEL FAILOVER; resolves with the new master once every sentinel reports it, it
   * answers as master, and the old master is its replica with the link up.
   */
  failover(): Promise<RedisAddress>;
  /** SIGKILLs the master; resolves with the promoted replica once every sentinel reports it. */
  killMaster(): Promise<RedisAddress>;
  /** Stops every process (SIGTERM, then SIGKILL) and removes the directory. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 20_000;
const SWITCH_TIMEOUT_MS = 20_000;

export async function startSentinelSetup(
  options: SentinelSetupOptions = {},
): Promise<SentinelSetup> {
  const bin = redisServerBinary();
  const masterName = options.masterName ?? 'posguard';
  const dir = mkdtempSync(join(tmpdir(), 'posguard-sentinel-'));
  const processes: RedisProcess[] = [];
  const onExit = (): void => processes.forEach((p) => p.killNow());
  process.once('exit', onExit);
  const stopAll = async (): Promise<void> => {
    process.off('exit', onExit);
    await Promise.all(processes.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const ports = await distinctFreePorts(5);
    const [masterPort, replicaPort, ...sentinelPorts] = ports as [number, number, ...number[]];
    const data = [masterPort, replicaPort].map(
      (port) => new RedisProcess(`node-${port}`, port, dir, false),
    );
    const sentinels = sentinelPorts.map(
      (port) => new RedisProcess(`sentinel-${port}`, port, dir, true),
    );
    processes.push(...data, ...sentinels);
    const [master, replica] = data as [RedisProcess, RedisProcess];

    master.start(bin, dataNodeConfig(master.port, dir, options.password));
    replica.start(bin, [
      ...dataNodeConfig(replica.port, dir, options.password),
      `replicaof ${LOCALHOST} ${masterPort}`,
    ]);
    for (const sentinel of sentinels) {
      sentinel.start(bin, sentinelConfig(sentinel.port, dir, masterName, masterPort, options));
    }
    const setup = new Setup(masterName, dir, data, sentinels, options, stopAll);
    await setup.ready();
    return setup;
  } catch (error) {
    const dead = processes.filter((p) => !p.running);
    const logs = dead.map((p) => `${p.name} exited:\n${p.logTail()}`).join('\n');
    await stopAll();
    throw startFailure(error, logs, processes, dir);
  }
}

/** Why the set-up did not start, what it cleaned up, and what to install when it is Sentinel support. */
function startFailure(
  error: unknown,
  logs: string,
  processes: readonly RedisProcess[],
  dir: string,
): Error {
  const reason = error instanceof Error ? error.message : String(error);
  const message =
    `Redis Sentinel set-up did not start: ${reason}` +
    (logs === '' ? '' : `\n${logs}`) +
    `\nEvery process it started is stopped (PIDs ${processes.map((p) => p.pid).join(', ')}); ` +
    `directory ${dir} removed.`;
  const sentinelDied = processes.some((p) => p.name.startsWith('sentinel-') && !p.running);
  if (!sentinelDied || /CONFIG FILE ERROR/.test(logs)) return new Error(message, { cause: error });
  return new PosguardError(
    'REDIS_SERVER_MISSING',
    `${message}\nIf this redis-server has no Sentinel mode, install one that has (Debian/Ubuntu: ` +
      `sudo apt-get install redis-server redis-sentinel; macOS: brew install redis) or set ` +
      `REDIS_SERVER_BIN to its path. Redis ≥ 6.2 is required.`,
    { cause: error },
  );
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

const addressText = (a: RedisAddress): string => `${a.host}:${a.port}`;

class Setup implements SentinelSetup {
  readonly sentinelList: string;

  constructor(
    readonly masterName: string,
    readonly dir: string,
    readonly dataNodes: readonly RedisProcess[],
    readonly sentinels: readonly RedisProcess[],
    private readonly options: SentinelSetupOptions,
    readonly stop: () => Promise<void>,
  ) {
    this.sentinelList = sentinels.map((s) => addressText(s.address)).join(',');
  }

  pids(): number[] {
    return [...this.dataNodes, ...this.sentinels].map((p) => p.pid);
  }

  pause(node: SentinelNode): void {
    this.own(node).pause();
  }

  resume(node: SentinelNode): void {
    this.own(node).resume();
  }

  private own(node: SentinelNode): RedisProcess {
    const found = [...this.dataNodes, ...this.sentinels].find((p) => p === node);
    if (found === undefined) throw new Error(`${node.name} is not part of this set-up`);
    return found;
  }

  /** Every node answers, the replica is in sync, each sentinel knows the replica and the two others. */
  async ready(): Promise<void> {
    const [master, replica] = this.dataNodes as [RedisProcess, RedisProcess];
    await waitFor('the set-up to answer', START_TIMEOUT_MS, async () => {
      this.requireRunning();
      for (const node of this.dataNodes) await ask(node.port, this.options.password, ['PING']);
      for (const s of this.sentinels) await ask(s.port, this.options.sentinelPassword, ['PING']);
    });
    // A sentinel turns a failed-over master that still says "master" into a replica only
    // after 4 hello periods (2 s each) and an INFO (every 10 s): 250 ms and 1 s keep
    // `failover()` to seconds. Redis ≥ 7.0; older sentinels refuse SENTINEL DEBUG and keep
    // the production timings (a failover() then takes ~20 s).
    for (const sentinel of this.sentinels) {
      await this.askSentinel(sentinel, [
        'DEBUG',
        'info-period',
        '1000',
        'publish-period',
        '250',
      ]).catch(() => undefined);
    }
    await waitFor('the sentinels to see the replica and each other', START_TIMEOUT_MS, async () => {
      this.requireRunning();
      const link = (await replicationInfo(replica.port, this.options.password)).master_link_status;
      if (link !== 'up') throw new Error(`replica link ${link ?? 'unknown'}`);
      for (const sentinel of this.sentinels) {
        await this.requireHealthyView(sentinel, master, replica);
      }
    });
  }

  async masterAddress(): Promise<RedisAddress> {
    const answers = await Promise.all(
      this.sentinels
        .filter((s) => s.running && !s.paused)
        .map(async (s) => {
          const reply = await this.askSentinel(s, ['GET-MASTER-ADDR-BY-NAME', this.masterName]);
          if (!Array.isArray(reply))
            throw new Error(`${s.name} knows no master ${this.masterName}`);
          return { host: String(reply[0]), port: Number(reply[1]) };
        }),
    );
    const seen = new Set(answers.map(addressText));
    if (seen.size !== 1)
      throw new Error(`the sentinels disagree on the master: ${[...seen].join(' / ')}`);
    return answers[0] as RedisAddress;
  }

  /**
   * The master once the sentinels agree on it: during a failover the leader already names
   * the promoted replica while the others still name the old master.
   */
  private agreedMaster(): Promise<RedisAddress> {
    return waitFor('the sentinels to agree on the master', SWITCH_TIMEOUT_MS, () =>
      this.masterAddress(),
    );
  }

  async failover(): Promise<RedisAddress> {
    const before = await this.agreedMaster();
    await waitFor('SENTINEL FAILOVER to be accepted', SWITCH_TIMEOUT_MS, async () => {
      const sentinel = this.sentinels.find((s) => s.running && !s.paused);
      if (sentinel === undefined) throw new GaveUp('no sentinel is running');
      await this.askSentinel(sentinel, ['FAILOVER', this.masterName]);
    });
    return this.switchedFrom(before, true);
  }

  async killMaster(): Promise<RedisAddress> {
    const before = await this.agreedMaster();
    const node = this.dataNodes.find((n) => n.port === before.port);
    if (node === undefined) throw new Error(`the master ${addressText(before)} is not one of ours`);
    await node.stop('SIGKILL');
    return this.switchedFrom(before, false);
  }

  private async switchedFrom(before: RedisAddress, oldReplicates: boolean): Promise<RedisAddress> {
    return waitFor(
      `a new master instead of ${addressText(before)}`,
      SWITCH_TIMEOUT_MS,
      async () => {
        const now = await this.masterAddress();
        if (now.port === before.port)
          throw new Error(`the sentinels still report ${addressText(now)}`);
        const role = (await replicationInfo(now.port, this.options.password)).role;
        if (role !== 'master') throw new Error(`${addressText(now)} answers as ${role ?? '?'}`);
        if (oldReplicates) {
          const old = await replicationInfo(before.port, this.options.password);
          if (
            old.role !== 'slave' ||
            old.master_port !== String(now.port) ||
            old.master_link_status !== 'up'
          ) {
            throw new Error(
              `old master: role ${old.role ?? '?'}, link ${old.master_link_status ?? '-'}`,
            );
          }
          const [newNode, oldNode] = [now.port, before.port].map((port) =>
            this.dataNodes.find((n) => n.port === port),
          ) as [RedisProcess, RedisProcess];
          for (const sentinel of this.sentinels)
            await this.requireHealthyView(sentinel, newNode, oldNode);
        }
        return now;
      },
    );
  }

  /**
   * `sentinel` sees `master` as master, `replica` as a replica that is neither down nor
   * disconnected, and two other sentinels. (Its view of the replica's link comes from an
   * INFO every 10 s, so the link itself is checked on the replica.)
   */
  private async requireHealthyView(
    sentinel: RedisProcess,
    master: RedisProcess,
    replica: RedisProcess,
  ): Promise<void> {
    const view = fieldsOf(await this.askSentinel(sentinel, ['MASTER', this.masterName]));
    if (
      view.port !== String(master.port) ||
      view.flags !== 'master' ||
      view['num-other-sentinels'] !== '2'
    ) {
      throw new Error(
        `${sentinel.name}: master ${view.port ?? '?'} (${view.flags ?? '?'}), ` +
          `${view['num-other-sentinels'] ?? '?'} other sentinels`,
      );
    }
    const replicas = (await this.askSentinel(sentinel, ['REPLICAS', this.masterName])) as unknown[];
    const entry = replicas.map(fieldsOf).find((r) => r.port === String(replica.port));
    if (entry?.flags !== 'slave') {
      throw new Error(`${sentinel.name}: replica ${replica.port} ${entry?.flags ?? 'unknown'}`);
    }
  }

  private askSentinel(sentinel: RedisProcess, args: readonly string[]): Promise<unknown> {
    return ask(sentinel.port, this.options.sentinelPassword, ['SENTINEL', ...args]);
  }

  private requireRunning(): void {
    const dead = [...this.dataNodes, ...this.sentinels].filter((p) => !p.running);
    if (dead.length > 0) throw new GaveUp(`${dead.map((p) => p.name).join(', ')} exited`);
  }
}
