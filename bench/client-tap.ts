/**
 * Counts what one ioredis client sends: commands (every `sendCommand`, pipelined ones
 * included) and socket writes. ioredis writes a whole pipeline in ONE socket write and a
 * single command in one write, so for a client that awaits each batch (the engine does)
 * socket writes = round trips. Optionally records the commands, grouped by write, so the
 * exact same Redis work can be replayed by a bare script (the floor).
 */
import type { Redis } from 'ioredis';

export interface RecordedCommand {
  name: string;
  args: (string | Buffer | number)[];
}

export interface ClientTap {
  readonly commands: number;
  readonly writes: number;
  /** Starts recording commands grouped by socket write (cleared on each call). */
  record(): void;
  /** Stops recording and returns the batches. */
  takeRecording(): RecordedCommand[][];
  reset(): void;
  detach(): void;
}

interface CommandLike {
  name: string;
  args: (string | Buffer | number)[];
}

interface Writable {
  write: (...args: unknown[]) => boolean;
}

export function tapClient(redis: Redis): ClientTap {
  const target = redis as unknown as {
    sendCommand: (cmd: CommandLike, ...rest: unknown[]) => unknown;
  };
  const stream = (redis as unknown as { stream: Writable }).stream;
  const originalSend = target.sendCommand;
  const originalWrite = stream.write;
  let commands = 0;
  let writes = 0;
  let recording: RecordedCommand[][] | null = null;
  let pending: RecordedCommand[] = [];
  target.sendCommand = function (this: unknown, cmd: CommandLike, ...rest: unknown[]) {
    commands += 1;
    if (recording !== null) pending.push({ name: cmd.name, args: [...cmd.args] });
    return originalSend.call(this, cmd, ...rest);
  };
  stream.write = function (this: unknown, ...args: unknown[]) {
    writes += 1;
    if (recording !== null && pending.length > 0) {
      recording.push(pending);
      pending = [];
    }
    return originalWrite.apply(this, args);
  };
  return {
    get commands() {
      return commands;
    },
    get writes() {
      return writes;
    },
    record() {
      recording = [];
      pending = [];
    },
    takeRecording() {
      const out = recording ?? [];
      recording = null;
      pending = [];
      return out;
    },
    reset() {
      commands = 0;
      writes = 0;
    },
    detach() {
      target.sendCommand = originalSend;
      stream.write = originalWrite;
    },
  };
}

/** Replays recorded batches: one pipeline (or one command) per batch, each awaited. */
export async function replayBatches(redis: Redis, batches: RecordedCommand[][]): Promise<void> {
  for (const batch of batches) {
    if (batch.length === 1) {
      const [only] = batch;
      await redis.call(only!.name, ...only!.args);
      continue;
    }
    const pipeline = redis.pipeline();
    for (const c of batch) pipeline.call(c.name, ...c.args);
    await pipeline.exec();
  }
}
