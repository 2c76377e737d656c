/**
 * The metrics and health endpoint of a service (SPEC §9): `/metrics`, `/healthz`
 * (the process is alive) and `/readyz` (its dependencies answer). Binds 127.0.0.1
 * unless configured otherwise.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface Readiness {
  /** Named checks; the service is ready when all are true. */
  checks(): Record<string, boolean>;
}

export interface HttpEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpEndpoint(options: {
  host: string;
  port: number;
  registry: Registry;
  readiness: Readiness;
}): Promise<HttpEndpoint> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': options.registry.contentType }).end(body);
        },
        (error: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
        },
      );
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}\n');
      return;
    }
    if (path === '/readyz') {
      const checks = options.readiness.checks();
      const ready = Object.values(checks).every(Boolean);
      res
        .writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
        .end(`${JSON.stringify({ status: ready ? 'ready' : 'not_ready', checks })}\n`);
      return;
    }
    res
      .writeHead(404, { 'content-type': 'text/plain' })
      .end('not found: try /metrics, /healthz, /readyz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
