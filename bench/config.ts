// The bench's service configuration: the clients and tool servers the scenarios drive, nothing else.
import { join } from 'node:path';
import type { ConfigInput } from '../src/config/schema.js';

export const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const CRM = 'http://tools.bench/crm/mcp';
export const BILLING = 'http://tools.bench/billing/mcp';
export const REDIRECT = 'http://127.0.0.1:9/callback';

/** Every confidential client of the bench; their secrets are random per run and reach the service through env. */
export const CLIENT_IDS = ['agent', 'crm-server', 'billing-server', 'admin-cli'] as const;
export type BenchClientId = (typeof CLIENT_IDS)[number];

export const secretEnvName = (clientId: string) => `BENCH_SECRET_${clientId.replace(/-/g, '_').toUpperCase()}`;

export interface BenchConfigOptions {
  port: number;
  redisUrl: string;
  /** Redis Cluster seeds: when set, the service uses the cluster instead of `redisUrl`. */
  redisClusterNodes?: string[];
  keyPrefix: string;
  keysDir: string;
  /** Another replica's issuer, when this service is a replica of it. */
  issuer?: string;
}

/**
 * `admin-cli` registers `crm.lookup_customer` besides `admin`, so its client_credentials grant with `resource=CRM`
 * yields a JWT for the CRM tool server (provider/configuration.ts getResourceServerInfo): the exchange's baseline.
 */
export function benchConfig({ port, redisUrl, redisClusterNodes, keyPrefix, keysDir, issuer }: BenchConfigOptions): ConfigInput {
  const secret = (id: string) => ({ env: secretEnvName(id) });
  return {
    port,
    issuer: issuer ?? `http://127.0.0.1:${port}`,
    logLevel: 'silent',
    redis: redisClusterNodes ? { clusterNodes: redisClusterNodes, keyPrefix } : { url: redisUrl, keyPrefix },
    keys: { file: join(keysDir, 'jwks.json') },
    cookieSecret: { file: join(keysDir, 'cookie.secret'), generate: true },
    demoLogin: {
      enabled: true,
      users: [{ sub: 'user-bob', username: 'bob', name: 'Bob', groups: ['finance'] }],
    },
    clients: [
      { client_id: 'agent', client_secret: secret('agent'), grant_types: ['authorization_code', EXCHANGE], redirect_uris: [REDIRECT] },
      { client_id: 'crm-server', client_secret: secret('crm-server'), grant_types: [EXCHANGE] },
      { client_id: 'billing-server', client_secret: secret('billing-server'), grant_types: [EXCHANGE] },
      { client_id: 'admin-cli', client_secret: secret('admin-cli'), grant_types: ['client_credentials'], scope: 'admin crm.lookup_customer' },
    ],
    toolServers: [
      { resource: CRM, audiences: ['crm'], scopes: ['crm.lookup_customer', 'crm.export_customers', 'billing.refund_lookup'], maxTtlSeconds: 300, clientId: 'crm-server' },
      { resource: BILLING, audiences: ['billing'], scopes: ['billing.refund_lookup', 'billing.issue_refund'], maxTtlSeconds: 120, clientId: 'billing-server' },
    ],
    agents: [
      {
        clientId: 'agent',
        toolServers: [
          { resource: CRM, scopes: ['crm.lookup_customer', 'crm.export_customers', 'billing.refund_lookup'], defaultScopes: ['crm.lookup_customer'] },
          // Issue 10's bench: refunds limited per call (RFC 9396 authorization_details), as in config/default.yaml.
          { resource: BILLING, scopes: ['billing.issue_refund'], arguments: { 'billing.issue_refund': { amount: { maximum: 5000 } } } },
        ],
      },
      { clientId: 'crm-server', toolServers: [{ resource: BILLING, scopes: ['billing.refund_lookup'] }] },
    ],
  };
}
