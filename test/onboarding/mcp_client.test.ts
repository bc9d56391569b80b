// OB-01 (SPEC §13): the unmodified MCP TypeScript SDK client (`auth()` with an OAuthClientProvider) onboards by Client ID
// Metadata Document and by Dynamic Client Registration, drives login and consent over HTTP (no browser), gets a
// delegation token, and calls a tool on an MCP SDK server protected by our verify SDK; the tool sees sub = the user and
// the client as actor. Revoking the session fails the next call (401); refresh rotates; a reused refresh token kills
// the grant (OB-03).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import express from 'express';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import * as mcpErrors from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { createVerifier, mcpTokenVerifier, protectedResourceMetadata, resourceMetadataPath, resourceMetadataUrl, type Verifier } from 'delegation-token-verify';
import { decodeJwt } from 'jose';
import { freePort, startService, testConfig, type TestService } from '../helpers/service.js';
import { startDocServer, type DocServer } from '../../tools/https_docs.js';
import { approveAuthorization, MemoryOAuthClientProvider } from '../../tools/mcp_oauth_client.js';
import { adminToken, call } from '../admin/helpers.js';

const REDIRECT = 'http://127.0.0.1:53682/callback';
const SCOPE = 'openid offline_access crm.lookup_customer';

const CLIENT_METADATA = { client_name: 'SDK test client', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none', application_type: 'native' } as OAuthClientMetadata;
const newProvider = (clientMetadataUrl?: string) => new MemoryOAuthClientProvider({ redirectUrl: REDIRECT, clientMetadata: CLIENT_METADATA, ...(clientMetadataUrl ? { clientMetadataUrl } : {}) });

describe('OB-01: the MCP SDK client onboards itself and calls a tool', () => {
  let docs: DocServer;
  let svc: TestService;
  let tool: Server;
  let toolUrl: string;
  let verifier: Verifier;
  const seen: Array<Record<string, unknown>> = [];

  before(async () => {
    docs = await startDocServer();
    const toolPort = await freePort();
    toolUrl = `http://127.0.0.1:${toolPort}/mcp`;
    svc = await startService({
      extra: (port) => {
        const base = testConfig(port, '', '');
        return {
          onboarding: { clientIdMetadataDocument: { enabled: true, allowedHosts: [docs.host], caFile: docs.caFile }, registration: { enabled: true } },
          toolServers: [...(base.toolServers ?? []), { resource: toolUrl, scopes: ['crm.lookup_customer', 'crm.export_customers'], maxTtlSeconds: 300, clientId: 'agent2' }],
          onboardedClients: [{ clientIdHosts: [docs.host], dynamicallyRegistered: true, toolServers: [{ resource: toolUrl, scopes: ['crm.lookup_customer'] }] }],
        };
      },
    });
    // The tool server: the MCP SDK's own bearer middleware with our verifier (introspection per call: revocation at once).
    verifier = createVerifier({ issuer: svc.url, audience: toolUrl, revocation: { mode: 'introspect', clientId: 'agent2', clientSecret: svc.secrets.agent2!, cacheSeconds: 0 } });
    const app = express();
    app.use(express.json());
    app.get(resourceMetadataPath(toolUrl), (_req, res) => {
      res.json(protectedResourceMetadata({ resource: toolUrl, authorizationServers: [svc.url], scopesSupported: ['crm.lookup_customer'] }));
    });
    app.post('/mcp', requireBearerAuth({ verifier: mcpTokenVerifier(verifier, { errors: mcpErrors }), resourceMetadataUrl: resourceMetadataUrl(toolUrl) }), async (req, res) => {
      const server = new McpServer({ name: 'crm', version: '1.0.0' });
      server.registerTool('whoami', { description: 'Who calls' }, async (extra) => {
        const info = extra.authInfo as { clientId: string; extra: Record<string, unknown> };
        seen.push({ sub: info.extra.sub, actors: info.extra.actors, clientId: info.clientId });
        return { content: [{ type: 'text', text: JSON.stringify({ sub: info.extra.sub, actors: info.extra.actors }) }] };
      });
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => void transport.close());
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    });
    tool = app.listen(toolPort, '127.0.0.1');
    await new Promise((resolve) => tool.once('listening', resolve));
  });
  after(async () => {
    verifier?.close();
    tool?.closeAllConnections();
    await new Promise((resolve) => tool?.close(resolve));
    await svc?.stop();
    await docs?.close();
  });

  /** What a user does in the browser: log in as `username`, allow on the consent page; returns the code. */
  async function userApproves(url: URL, username: string): Promise<string> {
    const { callback, consent } = await approveAuthorization(url, { redirectUri: REDIRECT, username });
    assert.equal(callback.searchParams.get('iss'), svc.url, 'RFC 9207 iss in the authorization response');
    assert.equal(consent?.clientName, 'SDK test client', 'the user saw the consent page');
    return callback.searchParams.get('code')!;
  }

  /** The SDK's whole flow: auth() → REDIRECT → the user approves → auth() with the code → AUTHORIZED. */
  async function onboard(provider: MemoryOAuthClientProvider, username: string): Promise<OAuthTokens> {
    assert.equal(await auth(provider, { serverUrl: toolUrl, scope: SCOPE }), 'REDIRECT');
    const code = await userApproves(provider.authorizationUrl!, username);
    assert.equal(await auth(provider, { serverUrl: toolUrl, authorizationCode: code, scope: SCOPE }), 'AUTHORIZED');
    return provider.saved!;
  }

  async function callTool(token: string): Promise<Record<string, unknown>> {
    const client = new Client({ name: 'sdk-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(toolUrl), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
    await client.connect(transport);
    try {
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      return JSON.parse((result.content as Array<{ text: string }>)[0]!.text) as Record<string, unknown>;
    } finally {
      await client.close();
    }
  }

  const status = async (token: string) =>
    (await fetch(toolUrl, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) })).status;

  it('by Client ID Metadata Document: delegation token, tools/call as the user with the client as actor; session revocation → 401', async () => {
    const clientId = `${docs.origin}/sdk-client.json`;
    docs.set('/sdk-client.json', { client_id: clientId, client_name: 'SDK test client', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none', application_type: 'native' });
    const provider = newProvider(clientId);
    const tokens = await onboard(provider, 'alice');
    assert.equal(provider.info?.client_id, clientId);
    const claims = decodeJwt(tokens.access_token);
    assert.equal(claims.aud, toolUrl);
    assert.equal(claims.sub, 'user-alice');
    assert.deepEqual(claims.act, { sub: clientId });
    assert.equal(claims.scope, 'crm.lookup_customer');
    assert.ok(tokens.refresh_token);

    assert.deepEqual(await callTool(tokens.access_token), { sub: 'user-alice', actors: [{ sub: clientId }] });

    const admin = await adminToken(svc);
    const revoked = await call(svc, 'POST', `/admin/sessions/${encodeURIComponent(String(claims.sid))}/revoke`, { token: admin, json: { reason: 'OB-01' } });
    assert.equal(revoked.status, 200);
    assert.equal(await status(tokens.access_token), 401);
  });

  it('by Dynamic Client Registration: the same; refresh rotates; reusing a rotated refresh token kills the grant', async () => {
    const provider = newProvider();
    const tokens = await onboard(provider, 'bob');
    assert.match(String(provider.info?.client_id), /^dcr_/);
    const clientId = String(provider.info!.client_id);
    assert.deepEqual(await callTool(tokens.access_token), { sub: 'user-bob', actors: [{ sub: clientId }] });

    // The SDK refreshes when it holds a refresh token: a new access and a new refresh token (rotation).
    const first = tokens.refresh_token!;
    assert.equal(await auth(provider, { serverUrl: toolUrl, scope: SCOPE }), 'AUTHORIZED');
    const rotated = provider.saved!;
    assert.notEqual(rotated.refresh_token, first);
    assert.notEqual(rotated.access_token, tokens.access_token);
    assert.deepEqual(await callTool(rotated.access_token), { sub: 'user-bob', actors: [{ sub: clientId }] });

    // Reuse of the rotated-away refresh token: refused, and the whole grant dies (its tokens too).
    const reuse = await fetch(`${svc.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', client_id: clientId, refresh_token: first, resource: toolUrl }) });
    assert.equal(reuse.status, 400);
    assert.equal(((await reuse.json()) as { error: string }).error, 'invalid_grant');
    assert.equal(await status(rotated.access_token), 401);
    const again = await fetch(`${svc.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', client_id: clientId, refresh_token: rotated.refresh_token!, resource: toolUrl }) });
    assert.equal(again.status, 400);
  });
});
