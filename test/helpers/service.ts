// Starts a real service instance for HTTP tests: real Redis (own key prefix, cleaned up), temp keys, random secrets.
import { deleteKeysWithPrefix, freePort } from '../../tools/local.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { createService, type Service } from '../../src/service.js';
import { connectTestCluster, deleteClusterKeysWithPrefix, testCluster } from './redis_cluster.js';

export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
export const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const AT = 'urn:ietf:params:oauth:token-type:access_token';
export const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
export const CRM = 'http://tools.test/crm/mcp';
export const BILLING = 'http://tools.test/billing/mcp';
export const REDIRECT = 'http://127.0.0.1:9/callback';


export interface TestService {
  service: Service;
  url: string;
  secrets: Record<string, string>;
  prefix: string;
  redis: Redis;
  /** HTTP Basic header for a client. */
  basic(clientId: string): string;
  stop(): Promise<void>;
}

const CLIENT_IDS = ['agent', 'agent2', 'crm-server', 'billing-server', 'admin-cli', 'no-exchange', 'public-agent'] as const;

/** The standard test configuration; `extra` is merged on top (arrays replace). */
export function testConfig(port: number, prefix: string, keysDir: string, extra: Partial<ConfigInput> = {}): ConfigInput {
  const secret = (id: string) => ({ env: `TEST_SECRET_${id.replace(/-/g, '_').toUpperCase()}` });
  return {
    port,
    issuer: `http://127.0.0.1:${port}`,
    logLevel: 'silent',
    redis: { url: REDIS_URL, keyPrefix: prefix },
    keys: { file: join(keysDir, 'jwks.json') },
    cookieSecret: { file: join(keysDir, 'cookie.secret'), generate: true },
    demoLogin: {
      enabled: true,
      users: [
        { sub: 'user-alice', username: 'alice', name: 'Alice', groups: ['support'] },
        { sub: 'user-bob', username: 'bob', name: 'Bob', groups: ['finance'] },
      ],
    },
    clients: [
      { client_id: 'agent', client_secret: secret('agent'), grant_types: ['authorization_code', EXCHANGE], redirect_uris: [REDIRECT] },
      { client_id: 'agent2', client_secret: secret('agent2'), grant_types: ['authorization_code', EXCHANGE], redirect_uris: [REDIRECT] },
      { client_id: 'crm-server', client_secret: secret('crm-server'), grant_types: [EXCHANGE] },
      { client_id: 'billing-server', client_secret: secret('billing-server'), grant_types: [EXCHANGE] },
      { client_id: 'admin-cli', client_secret: secret('admin-cli'), grant_types: ['client_credentials'], scope: 'admin crm.lookup_customer' },
      { client_id: 'no-exchange', client_secret: secret('no-exchange'), grant_types: ['authorization_code'], redirect_uris: [REDIRECT] },
      { client_id: 'public-agent', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], redirect_uris: [REDIRECT] },
    ],
    toolServers: [
      // The CRM server calls billing for the user, so it accepts (and forwards) billing.refund_lookup too.
      { resource: CRM, audiences: ['crm'], scopes: ['crm.lookup_customer', 'crm.export_customers', 'billing.refund_lookup'], maxTtlSeconds: 300, clientId: 'crm-server' },
      { resource: BILLING, audiences: ['billing'], scopes: ['billing.refund_lookup', 'billing.issue_refund'], maxTtlSeconds: 120, clientId: 'billing-server' },
    ],
    agents: [
      {
        clientId: 'agent',
        toolServers: [
          { resource: CRM, scopes: ['crm.lookup_customer', 'crm.export_customers', 'billing.refund_lookup'], defaultScopes: ['crm.lookup_customer'] },
          { resource: BILLING, scopes: ['billing.refund_lookup'], groups: ['finance'] },
        ],
      },
      { clientId: 'agent2', toolServers: [{ resource: CRM, scopes: ['crm.lookup_customer'] }] },
      { clientId: 'crm-server', toolServers: [{ resource: BILLING, scopes: ['billing.refund_lookup', 'billing.issue_refund'] }] },
      { clientId: 'billing-server', toolServers: [{ resource: CRM, scopes: ['crm.lookup_customer'] }] },
    ],
    ...extra,
  };
}

export interface StartOptions {
  extra?: (port: number) => Partial<ConfigInput>;
  /** Use the in-memory store instead of Redis. */
  memory?: boolean;
  /** Use a Redis Cluster instead of single Redis: `true` for the test cluster (redis_cluster.ts), or these seed URLs. */
  cluster?: boolean | string[];
  now?: () => number;
  /** Reuse another instance's keys and prefix (two replicas sharing one Redis). */
  share?: { keysDir: string; prefix: string; secrets: Record<string, string> };
  /** The service's logger (silent by default); tests that read the log pass one writing to a stream. */
  logger?: import('pino').Logger;
}

export async function startService(options: StartOptions = {}): Promise<TestService & { keysDir: string }> {
  const port = await freePort();
  const prefix = options.share?.prefix ?? `test:${randomUUID()}:`;
  const keysDir = options.share?.keysDir ?? mkdtempSync(join(tmpdir(), 'dts-test-'));
  const secrets: Record<string, string> = options.share?.secrets ?? Object.fromEntries(CLIENT_IDS.map((id) => [id, randomBytes(24).toString('base64url')]));
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(secrets).map(([id, s]) => [`TEST_SECRET_${id.replace(/-/g, '_').toUpperCase()}`, s]),
  );
  const input = testConfig(port, prefix, keysDir, options.extra?.(port));
  if (options.memory) input.redis = { keyPrefix: prefix };
  const clusterNodes = options.cluster === true ? testCluster().nodes : options.cluster || undefined;
  if (clusterNodes) input.redis = { ...input.redis, url: undefined, clusterNodes, keyPrefix: prefix };
  const config = parseConfig(input);
  const service = await createService(config, { logger: options.logger ?? pino({ level: 'silent' }), env, ...(options.now ? { now: options.now } : {}) });
  await service.listen(port, '127.0.0.1');
  const redis = clusterNodes ? await connectTestCluster(clusterNodes) : new Redis(REDIS_URL, { lazyConnect: true });
  if (!clusterNodes) await redis.connect();
  return {
    service,
    url: config.issuer,
    secrets,
    prefix,
    redis,
    keysDir,
    basic: (clientId) => `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secrets[clientId] ?? '')}`).toString('base64')}`,
    async stop() {
      await service.close();
      if (!options.share) {
        await (clusterNodes ? deleteClusterKeysWithPrefix : deleteKeysWithPrefix)(redis, prefix);
        rmSync(keysDir, { recursive: true, force: true });
      }
      await redis.quit();
    },
  };
}

export { randomUUID };

export { freePort };
