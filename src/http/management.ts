// The management listener (Keycloak's port 9000 convention): /metrics, /healthz and /readyz on a port of their own,
// so scrapes and probes stay off the public port and a network policy can keep /metrics internal.
import { createServer, type Server } from 'node:http';
import Koa from 'koa';
import type Router from '@koa/router';
import type { Logger } from 'pino';
import { errorRenderer, requestLog } from './app.js';
import { keepAliveBeyondBalancers } from './shutdown.js';
import type { Metrics } from './metrics.js';

export interface ManagementDeps {
  logger: Logger;
  metrics: Metrics;
  /** The same routers the main port mounts for health (/healthz, /readyz) and for /metrics. */
  routers: Router[];
}

/** A tiny koa app with its own request log; any other path answers 404 without a body, as koa does. */
export function createManagementServer({ logger, metrics, routers }: ManagementDeps): Server {
  const app = new Koa();
  app.silent = true;
  app.use(requestLog(logger, metrics.httpDuration));
  app.use(errorRenderer(logger));
  for (const router of routers) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return keepAliveBeyondBalancers(createServer(app.callback()));
}

/** Starts listening; rejects with the listen error (EADDRINUSE, EACCES) so start-up fails with one clear line. */
export function listenManagement(server: Server, port: number, host?: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
