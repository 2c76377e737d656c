/**
 * The benchmark's side of a service child: fork, start, sample memory/CPU, stop.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildReply, ChildRequest, MemorySample, ServiceKind } from './service-protocol.js';

const CHILD = fileURLToPath(new URL('./service-child.js', import.meta.url));

export interface ServiceProcess {
  readonly kind: ServiceKind;
  readonly pid: number;
  sample(): Promise<MemorySample>;
  stop(): Promise<void>;
}

function nextReply(child: ChildProcess, timeoutMs: number): Promise<ChildReply> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`service child ${child.pid} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: unknown): void => {
      cleanup();
      resolve(m as ChildReply);
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`service child ${child.pid} exited with code ${code}`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Forks a service child and starts `kind` with `env`; resolves once it runs. */
export async function startServiceProcess(
  kind: ServiceKind,
  env: Record<string, string>,
  options: { execArgv?: string[] } = {},
): Promise<ServiceProcess> {
  const child = fork(CHILD, [], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: options.execArgv ?? [],
  });
  let queue: Promise<unknown> = Promise.resolve();
  const ask = (request: ChildRequest, timeoutMs: number): Promise<ChildReply> => {
    const run = queue.then(() => {
      const answer = nextReply(child, timeoutMs);
      child.send(request);
      return answer;
    });
    queue = run.catch(() => undefined);
    return run;
  };
  const started = await ask({ type: 'start', service: kind, env }, 30_000);
  if (started.type !== 'ready') {
    child.kill('SIGKILL');
    throw new Error(
      `${kind} child failed to start: ${started.type === 'error' ? started.message : started.type}`,
    );
  }
  return {
    kind,
    pid: child.pid ?? -1,
    sample: async () => {
      const answer = await ask({ type: 'sample' }, 10_000);
      if (answer.type !== 'sample')
        throw new Error(`${kind} child answered ${answer.type} to sample`);
      return answer;
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      try {
        await ask({ type: 'stop' }, 20_000);
      } catch {
        child.kill('SIGKILL');
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
