/**
 * Proof that the page writes nothing: the whole keyspace (DUMP and PEXPIRETIME of every key)
 * before and after, and every command the page's connections sent (MONITOR, mapped to the
 * connections' names with CLIENT LIST) against a list of read-only commands.
 */
import type { Redis } from 'ioredis';

export async function keyspaceDump(redis: Redis): Promise<Record<string, string>> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  keys.sort();
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.dumpBuffer(key).pexpiretime(key);
  const replies = (await pipeline.exec()) ?? [];
  const dump: Record<string, string> = {};
  keys.forEach((key, i) => {
    const value = replies[2 * i]?.[1] as Buffer | null;
    dump[key] = `${value?.toString('hex') ?? 'gone'} expire=${String(replies[2 * i + 1]?.[1])}`;
  });
  return dump;
}

/** Commands that never change the keyspace (connection setup included). */
const READ_ONLY = new Set([
  'hgetall',
  'get',
  'pttl',
  'pexpiretime',
  'type',
  'xrevrange',
  'xread',
  'scan',
  'info',
  'client',
  'select',
  'ping',
]);

export interface CommandWatch {
  count(command: string, key: string): number;
  stop(): Promise<{ webCommands: Set<string>; readOnly: Set<string> }>;
}

export async function watchCommands(admin: Redis): Promise<CommandWatch> {
  // MONITOR runs on a connection of its own (ioredis duplicates the admin's).
  const monitor = await admin.monitor();
  const seen: { args: string[]; source: string }[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    seen.push({ args, source });
  });
  return {
    count: (command, key) =>
      seen.filter((s) => s.args[0]?.toLowerCase() === command && s.args[1] === key).length,
    stop: async () => {
      const list = (await admin.client('LIST')) as string;
      monitor.disconnect();
      const web = new Set<string>();
      for (const line of list.split('\n')) {
        const addr = /\baddr=(\S+)/.exec(line)?.[1];
        const name = /\bname=(\S*)/.exec(line)?.[1] ?? '';
        if (addr !== undefined && name.startsWith('posguard-web')) web.add(addr);
      }
      const webCommands = new Set(
        seen.filter((s) => web.has(s.source)).map((s) => (s.args[0] ?? '').toLowerCase()),
      );
      return { webCommands, readOnly: READ_ONLY };
    },
  };
}
