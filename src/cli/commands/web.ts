/**
 * `posguard web` — the read-only status page (SPEC §12), until Ctrl-C/SIGTERM. Loopback by
 * default; any other --host needs POSGUARD_WEB_TOKEN (environment or --env-file).
 */
import { type Command, InvalidArgumentError } from 'commander';
import { mergeEnv } from '../../config/env-file.js';
import { loadConfig } from '../../config/config.js';
import { createLogger } from '../../observability/logger.js';
import { startWebServer } from '../../web/server.js';
import {
  DEFAULT_REFRESH_MS,
  DEFAULT_WEB_HOST,
  DEFAULT_WEB_PORT,
  webSettings,
} from '../../web/settings.js';
import { withEnvFile } from '../config-option.js';
import { keysFor } from '../redis-session.js';

interface WebOptions {
  envFile?: string;
  host: string;
  port: number;
  refreshMs: number;
}

function portArg(value: string): number {
  if (!/^\d{1,5}$/.test(value.trim()) || Number(value) > 65535) {
    throw new InvalidArgumentError('expected a port between 0 and 65535');
  }
  return Number(value);
}

function refreshArg(value: string): number {
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 100 || ms > 60_000) {
    throw new InvalidArgumentError('expected milliseconds between 100 and 60000');
  }
  return ms;
}

/** Resolves on the first SIGINT or SIGTERM. */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

async function web(options: WebOptions): Promise<void> {
  const env = mergeEnv(process.env, options.envFile);
  const config = loadConfig(env);
  const settings = webSettings({
    host: options.host,
    port: options.port,
    refreshMs: options.refreshMs,
    env,
  });
  const symbols = [...new Set([...config.reconcile.allowlist, ...config.brain.allowlist])].sort();
  const logger = createLogger({ name: 'posguard-web', level: 'info', destination: process.stderr });
  const server = await startWebServer({
    settings,
    redis: config.redis,
    keys: keysFor(config),
    symbols,
    logger,
    leaseMs: config.ha.leaseMs,
  });
  const access =
    settings.token === null
      ? 'no token (loopback only)'
      : 'token required: open the URL with ?token=… once, or send Authorization: Bearer …';
  process.stdout.write(
    `posguard web: ${server.url} — read-only, ${symbols.length} symbol${symbols.length === 1 ? '' : 's'}, ${access}; Ctrl-C to stop\n`,
  );
  await untilSignal();
  await server.close();
}

export function registerWeb(program: Command): void {
  withEnvFile(
    program
      .command('web')
      .summary('read-only live status page in the browser (default http://127.0.0.1:8047/)')
      .description(
        'serve the read-only status page: every allowlisted symbol (exchange, ledger, diff, status,\n' +
          'reason, hold owner and TTL, snapshot age), heartbeats, permit counters, live events and\n' +
          'per-symbol history. Loopback by default; another --host needs POSGUARD_WEB_TOKEN.',
      )
      .option('--host <address>', 'address to listen on', DEFAULT_WEB_HOST)
      .option('--port <port>', 'port to listen on (0 = any free port)', portArg, DEFAULT_WEB_PORT)
      .option(
        '--refresh-ms <ms>',
        'how often the desk is read while a page is open',
        refreshArg,
        DEFAULT_REFRESH_MS,
      )
      .addHelpText(
        'after',
        '\nExamples:\n  posguard web --env-file /etc/quantum/reconcile-engine.env\n' +
          '  ssh -L 8047:127.0.0.1:8047 HOST   # then open http://localhost:8047/\n' +
          '  POSGUARD_WEB_TOKEN=$(openssl rand -hex 16) posguard web --host 0.0.0.0',
      ),
  ).action((options: WebOptions) => web(options));
}
