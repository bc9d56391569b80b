// Wires one service instance from a parsed config: secrets, keys, stores, provider, routes, event subscribers.
import type { Server } from 'node:http';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { resolveSecret } from './config/secrets.js';
import { loadOrCreateKeys, type LoadedKeys } from './keys/index.js';
import { createStores } from './stores/index.js';
import type { Stores } from './stores/types.js';
import { createDecisionEvents, type DecisionEvents } from './audit/events.js';
import { createProvider } from './provider/index.js';
import { interactionRoutes } from './provider/interactions.js';
import { errorRenderer, healthRoutes, mount, requestLog } from './http/app.js';

export interface Service {
  provider: Provider;
  stores: Stores;
  keys: LoadedKeys;
  events: DecisionEvents;
  listen(port: number, host?: string): Promise<Server>;
  close(): Promise<void>;
}

export interface ServiceOptions {
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

export async function createService(config: Config, { logger, env = process.env, now }: ServiceOptions): Promise<Service> {
  const warn = (msg: string) => logger.warn(`!!! ${msg}`);
  const onGenerated = (file: string) => warn(`generated a development secret at ${file}; provide secrets through env or files in production`);

  const clientSecrets = new Map<string, string>();
  config.clients.forEach((c, i) => {
    if (c.client_secret) clientSecrets.set(c.client_id, resolveSecret(c.client_secret, `clients.${i}.client_secret`, { env, onGenerated }));
  });
  const cookieKeys = [resolveSecret(config.cookieSecret, 'cookieSecret', { env, onGenerated })];

  const keys = await loadOrCreateKeys({
    file: config.keys.file,
    alg: config.keys.alg,
    maxTokenLifetimeSeconds: Math.max(300, ...config.toolServers.map((t) => t.maxTtlSeconds)),
    onWarning: warn,
  });
  if (keys.generated) warn(`generated new ${config.keys.alg} signing keys at ${keys.file} (development default)`);

  const stores = await createStores({
    ...(config.redis.url ? { redisUrl: config.redis.url } : {}),
    keyPrefix: config.redis.keyPrefix,
    onRedisError: (err) => logger.error({ err: err.message }, 'redis error'),
  });
  if (stores.kind === 'memory') {
    warn('SINGLE-INSTANCE MODE: no REDIS_URL, state is kept in this process only (lost on restart, not shared between replicas)');
  }
  if (config.demoLogin.enabled) warn('the development login page is enabled (demoLogin.enabled): never in production');

  const events = createDecisionEvents((err) => logger.error({ err }, 'decision event listener failed'));
  events.on((e) => {
    const line = { event: e.type, decision: e.decision, error: e.error, reasons: e.reasons, reqId: e.requestId, clientId: e.clientId, sub: e.sub, sid: e.sid, toolServer: e.toolServer, scopes: e.grantedScopes, jti: e.jti };
    if (e.error === 'temporarily_unavailable') logger.error(line, 'decision');
    else logger.info(line, 'decision');
  });

  const provider = createProvider({ config, keys, stores, clientSecrets, cookieKeys, events, ...(now ? { now } : {}) });
  provider.on('server_error', (_ctx, err) => logger.error({ err }, 'provider server_error'));
  provider.on('grant.error', (ctx, err) => {
    const e = err as { error?: string; error_detail?: string };
    if (e.error_detail) logger.info({ reqId: ctx.state.requestId, error: e.error, detail: e.error_detail }, 'grant error');
  });

  mount(
    provider,
    requestLog(logger),
    errorRenderer(logger),
    healthRoutes({ store: stores.health, keysLoaded: () => Boolean(keys.signing) }),
    interactionRoutes(provider, config.demoLogin),
  );

  let server: Server | undefined;
  return {
    provider,
    stores,
    keys,
    events,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const s = provider.listen(port, host, () => resolve(s));
        s.once('error', reject);
        server = s;
      });
    },
    async close() {
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
      }
      await stores.close();
    },
  };
}
