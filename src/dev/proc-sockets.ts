/**
 * Which process holds a TCP connection (Linux /proc): the local ports of every TCP socket
 * a process has open. Redis names a client by its address (`CLIENT LIST addr=`, the
 * MONITOR feed's `[0 127.0.0.1:PORT]`), and every instance of a service sets the same
 * CLIENT SETNAME — the port is what tells two instances' connections apart.
 *
 * Works on a stopped (SIGSTOP) process too. Needs /proc and the same user as the process.
 * `ConnectionOwners` keeps the answer for a set of processes (the HA cluster's instances).
 */
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

const SOCKET_LINK = /^socket:\[(\d+)\]$/;

/** The inodes of the sockets `pid` holds (empty when it has exited). */
function socketInodes(pid: number): Set<string> {
  const dir = `/proc/${pid}/fd`;
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(dir);
  } catch {
    return inodes; // exited (or a zombie): no sockets left
  }
  for (const fd of fds) {
    try {
      const match = SOCKET_LINK.exec(readlinkSync(join(dir, fd)));
      if (match) inodes.add(match[1] as string);
    } catch {
      // closed between readdir and readlink
    }
  }
  return inodes;
}

/**
 * The local ports of `pid`'s TCP sockets (IPv4 and IPv6), from `/proc/<pid>/net/tcp*`
 * rows whose inode is one of its sockets. Throws where there is no /proc.
 */
export function localTcpPorts(pid: number): number[] {
  if (!existsSync('/proc/self/net/tcp')) {
    throw new Error(
      'mapping Redis connections to processes needs Linux /proc (/proc/<pid>/fd, /proc/<pid>/net/tcp)',
    );
  }
  const inodes = socketInodes(pid);
  const ports: number[] = [];
  if (inodes.size === 0) return ports;
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      const inode = cols[9];
      if (local === undefined || inode === undefined || !inodes.has(inode)) continue;
      const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if (Number.isInteger(port)) ports.push(port);
    }
  }
  return ports;
}

export interface OwnedProcess {
  readonly owner: string;
  readonly pid: number;
}

/**
 * Who held each connection: the local ports of `processes()` looked up every `everyMs`
 * (and, at most that often, when asked about a port not seen yet). A port stays credited
 * to its last holder after the connection closed — so a write seen earlier can still be
 * attributed — until another of the processes is seen holding it.
 */
export class ConnectionOwners {
  private readonly owners = new Map<number, string>();
  private refreshedMs = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly processes: () => Iterable<OwnedProcess>,
    private readonly everyMs = 100,
  ) {
    this.timer = setInterval(() => this.refresh(), everyMs);
    this.timer.unref();
  }

  refresh(): void {
    this.refreshedMs = Date.now();
    for (const { owner, pid } of this.processes())
      for (const port of localTcpPorts(pid)) this.owners.set(port, owner);
  }

  /** The owner of the connection at `client` (`host:port`), or null when none was seen holding it. */
  ownerOf(client: string): string | null {
    const port = Number(client.slice(client.lastIndexOf(':') + 1));
    if (!this.owners.has(port) && Date.now() - this.refreshedMs > this.everyMs) this.refresh();
    return this.owners.get(port) ?? null;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
