// mcpTokenVerifier behind the MCP SDK's own requireBearerAuth on a tiny Express app.
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as mcpErrors from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import type { OAuthTokenVerifier } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import express from 'express';
import { createVerifier, mcpTokenVerifier, resourceMetadataUrl, type Verifier } from 'delegation-token-verify';
import { FEED_CLIENT, startFakeIssuer, type FakeIssuer } from './helpers/fake_issuer.js';
import { AUDIENCE, makeKey, mint, now, type TestKey } from './helpers/tokens.js';

const METADATA = resourceMetadataUrl(AUDIENCE);

let issuer: FakeIssuer;
let es: TestKey;
const verifiers: Verifier[] = [];
const servers: Server[] = [];

async function serve(tokenVerifier: OAuthTokenVerifier, requiredScopes?: string[]): Promise<string> {
  const app = express();
  app.post(
    '/mcp',
    requireBearerAuth({ verifier: tokenVerifier, resourceMetadataUrl: METADATA, expectedResource: new URL(AUDIENCE), requiredScopes }),
    (req, res) => {
      res.json(req.auth);
    },
  );
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
}

function verifier(revocation?: Parameters<typeof createVerifier>[0]['revocation']): Verifier {
  const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, revocation });
  verifiers.push(v);
  return v;
}

const post = (url: string, token: string) => fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` } });

let url: string;
before(async () => {
  issuer = await startFakeIssuer();
  es = await makeKey('ES256', 'k-es');
  issuer.keys.push(es.publicJwk);
  url = await serve(mcpTokenVerifier(verifier(), { errors: mcpErrors }));
});
after(async () => {
  for (const v of verifiers) v.close();
  for (const s of servers) s.closeAllConnections(), s.close();
  await issuer.close();
});

describe('mcpTokenVerifier with requireBearerAuth', () => {
  it('passes AuthInfo with clientId, scopes, expiresAt, resource and extra.sub/sid/jti/actors', async () => {
    const t = await mint({ key: es, issuer: issuer.url, claims: { jti: 'j-1', act: { sub: 'agent-b', act: { sub: 'agent-a' } } } });
    const res = await post(url, t);
    assert.equal(res.status, 200);
    const auth = (await res.json()) as Omit<AuthInfo, 'resource'> & { resource: string };
    assert.equal(auth.token, t);
    assert.equal(auth.clientId, 'agent-a');
    assert.deepEqual(auth.scopes, ['crm.lookup_customer', 'crm.export_customers']);
    assert.equal(typeof auth.expiresAt, 'number');
    assert.equal(auth.resource, AUDIENCE);
    assert.deepEqual(auth.extra, { sub: 'user-1', sid: 'sess-1', jti: 'j-1', actors: [{ sub: 'agent-b' }, { sub: 'agent-a' }], authorizationDetails: [] });
  });

  it('answers 401 invalid_token for bad, foreign-audience and expired tokens', async () => {
    const bad = [
      'garbage',
      await mint({ key: es, issuer: issuer.url, claims: { aud: 'https://tools.example/other' } }),
      await mint({ key: es, issuer: issuer.url, claims: { exp: now() - 600 } }),
      await mint({ key: 'none', issuer: issuer.url }),
    ];
    for (const t of bad) {
      const res = await post(url, t);
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="https:\/\/tools\.example\/\.well-known\/oauth-protected-resource\/mcp"$/);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_token');
    }
  });

  it('answers 403 insufficient_scope when the SDK or our verifier requires a missing scope', async () => {
    const t = await mint({ key: es, issuer: issuer.url });
    for (const target of [
      await serve(mcpTokenVerifier(verifier(), { errors: mcpErrors }), ['crm.delete_customer']),
      await serve(mcpTokenVerifier(verifier(), { errors: mcpErrors, requiredScopes: ['crm.delete_customer'] })),
    ]) {
      const res = await post(target, t);
      assert.equal(res.status, 403);
      assert.equal(((await res.json()) as { error: string }).error, 'insufficient_scope');
    }
  });

  it('answers 500 (never 401, never 200) only when revocation status is unavailable', async () => {
    const down = verifier({ mode: 'introspect', ...FEED_CLIENT, clientSecret: 'wrong' });
    const target = await serve(mcpTokenVerifier(down, { errors: mcpErrors }));
    const res = await post(target, await mint({ key: es, issuer: issuer.url }));
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error: 'server_error', error_description: 'revocation status unavailable' });
  });

  it('without the SDK error classes, still fails closed (500) for a bad token', async () => {
    const target = await serve(mcpTokenVerifier(verifier()));
    assert.equal((await post(target, 'garbage')).status, 500);
  });
});
