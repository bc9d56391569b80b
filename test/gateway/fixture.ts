// The gateway test stack: the real service on real Redis, the plain (no-auth) MCP server upstream, and the gateway
// in front of it, with a delegation token obtained the way an agent obtains one (login, then token exchange).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createGateway, type Gateway } from '../../src/gateway/gateway.js';
import type { GatewayConfig, GatewayConfigInput } from '../../src/gateway/config.js';
import { parseGatewayConfig } from '../../src/gateway/load.js';
import { startPlainMcpServer, type PlainMcpServer, type PlainMcpServerOptions } from '../../tools/plain_mcp_server.js';
import { exchangeFor, loginUser } from '../helpers/http.js';
import { EXCHANGE, freePort, REDIS_URL, startService, testConfig, type TestService } from '../helpers/service.js';

export const TOOLS = ['lookup_customer', 'issue_refund', 'export_customers', 'echo', 'slow'];
/** What the agent may call through the gateway: not export_customers; refunds up to 5000. */
export const GRANTED = ['lookup_customer', 'issue_refund', 'echo', 'slow'];

export interface Stack {
  svc: TestService;
  gateway: Gateway;
  /** The gateway's parsed configuration (another replica: createGateway with it, or a variant, on another port). */
  config: GatewayConfig;
  upstream: PlainMcpServer;
  /** The gateway's base URL and the route's public resource URI (the token's aud). */
  gatewayUrl: string;
  resource: string;
  keysDir: string;
  token(username?: string, scope?: string): Promise<string>;
  connect(token: string, opts?: { fetch?: typeof fetch }): Promise<Client>;
  stop(): Promise<void>;
}

export interface StackOptions {
  upstream?: PlainMcpServerOptions;
  /** Another upstream URL (e.g. nothing listening) instead of the plain server's. */
  upstreamUrl?: string;
  gateway?: Partial<GatewayConfigInput>;
  route?: Record<string, unknown>;
  /** Merged over the service's test configuration (e.g. `dpop`). */
  service?: Record<string, unknown>;
  logger?: import('pino').Logger;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const gatewayPort = await freePort();
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const resource = `${gatewayUrl}/crm/mcp`;
  const upstream = await startPlainMcpServer(options.upstream);
  const upstreamUrl = options.upstreamUrl ?? upstream.url;
  const keysDir = mkdtempSync(join(tmpdir(), 'dts-gw-'));
  const gatewaySecret = randomBytes(24).toString('base64url');
  writeFileSync(join(keysDir, 'gateway.secret'), gatewaySecret, { mode: 0o600 });
  const svc = await startService({
    extra: (port) => {
      const base = testConfig(port, 'unused', keysDir);
      return {
        clients: [...(base.clients ?? []), { client_id: 'gateway', client_secret: { file: join(keysDir, 'gateway.secret') }, grant_types: [EXCHANGE], scope: 'revocation' }],
        toolServers: [
          ...(base.toolServers ?? []),
          { resource, scopes: TOOLS, maxTtlSeconds: 300, clientId: 'gateway' },
          { resource: upstreamUrl, scopes: TOOLS, maxTtlSeconds: 300 },
        ],
        agents: [
          ...(base.agents ?? []).filter((a) => a.clientId !== 'agent'),
          {
            clientId: 'agent',
            toolServers: [
              ...(base.agents ?? []).find((a) => a.clientId === 'agent')!.toolServers!,
              { resource, scopes: GRANTED, defaultScopes: GRANTED, arguments: { issue_refund: { amount: { maximum: 5000 } } } },
            ],
          },
          { clientId: 'gateway', toolServers: [{ resource: upstreamUrl, scopes: GRANTED }] },
        ],
        ...options.service,
      };
    },
  });
  const config = parseGatewayConfig({
    port: gatewayPort,
    publicUrl: gatewayUrl,
    logLevel: 'silent',
    issuer: svc.url,
    client: { clientId: 'gateway', clientSecret: { file: join(keysDir, 'gateway.secret') } },
    redis: { url: REDIS_URL, keyPrefix: svc.prefix },
    keys: { file: join(keysDir, 'gateway-jwks.json') },
    audit: { argumentsKey: { file: join(keysDir, 'arguments.key'), generate: true } },
    allowedOrigins: ['http://allowed.example'],
    maxBodyBytes: 4096,
    upstreamTimeoutMs: 1000,
    ...options.gateway,
    routes: [{ resource, upstream: upstreamUrl, scopesSupported: TOOLS, ...options.route }],
  });
  const gateway = await createGateway(config, { logger: options.logger ?? pino({ level: 'silent' }) });
  await gateway.listen(gatewayPort, '127.0.0.1');
  await gateway.ready();
  const clients: Client[] = [];
  return {
    svc,
    gateway,
    config,
    upstream,
    gatewayUrl,
    resource,
    keysDir,
    async token(username = 'bob', scope = GRANTED.join(' ')) {
      const login = await loginUser(svc, { clientId: 'agent', username, scope: `openid ${TOOLS.join(' ')}` });
      const res = await exchangeFor(svc, 'agent', login.accessToken, resource, { scope });
      if (res.status !== 200) throw new Error(`exchange failed: ${JSON.stringify(res.body)}`);
      return res.body.access_token as string;
    },
    async connect(token, opts = {}) {
      const transport = new StreamableHTTPClientTransport(new URL(resource), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
        ...(opts.fetch ? { fetch: opts.fetch } : {}),
      });
      const client = new Client({ name: 'gateway-test', version: '1.0.0' });
      await client.connect(transport);
      clients.push(client);
      return client;
    },
    async stop() {
      for (const c of clients) await c.close().catch(() => {});
      await gateway.close();
      await upstream.stop();
      await svc.stop();
      rmSync(keysDir, { recursive: true, force: true });
    },
  };
}

/** POSTs one raw body to the route with a token; returns status, headers and the parsed (or raw) body. */
export async function post(stack: Stack, token: string | undefined, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(stack.resource, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // SSE or empty
  }
  return { status: res.status, headers: res.headers, body: parsed as Record<string, unknown>, text };
}

export const call = (id: number, name: string, args: Record<string, unknown> = {}) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
