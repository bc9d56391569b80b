// A DPoP-bound login to a tool-server resource yields a DPoP-bound delegation token (RFC 9449 §5): the opaque token's
// binding (oidc-provider's `jkt`) is carried into `cnf.jkt`, at the code grant and at refresh; a tool server that requires
// DPoP gets no token without a proof; a grant a proof bound keeps needing that key at refresh. Real service, real Redis.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, createLocalJWKSet, decodeJwt, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';
import { postForm } from '../../helpers/http.js';
import { AT, CRM, EXCHANGE, REDIRECT, startService, testConfig, type TestService } from '../../helpers/service.js';
import { introspectDelegation } from '../../admin/helpers.js';
import type { ExchangeDecisionEvent } from '../../../src/audit/events.js';
import { authorize, codeFlowConfig, MCP, startCodeFlowService } from './helpers.js';

interface Key { privateKey: CryptoKey; jwk: JWK; jkt: string }

async function newKey(): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

const proofFor = (key: Key, url: string) =>
  new SignJWT({ htm: 'POST', htu: `${url}/token`, iat: Math.floor(Date.now() / 1000), jti: randomBytes(16).toString('base64url') })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
    .sign(key.privateKey);

describe('authorization code with DPoP and a tool server resource', () => {
  let svc: TestService & { keysDir: string };
  before(async () => {
    svc = await startCodeFlowService();
  });
  after(() => svc.stop());

  it('the delegation token is bound to the proof key (cnf.jkt, token_type DPoP), and refresh keeps the binding', async () => {
    const key = await newKey();
    const { redirect, verifier } = await authorize(svc, { resource: CRM });
    const code = redirect.searchParams.get('code')!;
    const res = await postForm(`${svc.url}/token`, { grant_type: 'authorization_code', client_id: MCP, code, redirect_uri: REDIRECT, code_verifier: verifier, resource: CRM }, { dpop: await proofFor(key, svc.url) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.token_type, 'DPoP');
    const jwks = createLocalJWKSet(svc.service.keys.publicJwks as never);
    const { payload } = await jwtVerify(res.body.access_token as string, jwks, { issuer: svc.url, audience: CRM, typ: 'at+jwt' });
    assert.deepEqual(payload.cnf, { jkt: key.jkt });
    const intro = await introspectDelegation(svc, res.body.access_token as string);
    assert.equal(intro.body.active, true);
    assert.deepEqual(intro.body.cnf, { jkt: key.jkt });

    // A public client's refresh token is bound to the same key (oidc-provider): refresh with its proof, still bound.
    const again = await postForm(`${svc.url}/token`, { grant_type: 'refresh_token', client_id: MCP, refresh_token: res.body.refresh_token as string, resource: CRM }, { dpop: await proofFor(key, svc.url) });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.token_type, 'DPoP');
    const refreshed = await jwtVerify(again.body.access_token as string, jwks, { issuer: svc.url, audience: CRM, typ: 'at+jwt' });
    assert.deepEqual(refreshed.payload.cnf, { jkt: key.jkt });
  });

  it('without a proof the delegation token stays a bearer token (no cnf)', async () => {
    const { redirect, verifier } = await authorize(svc, { resource: CRM });
    const res = await postForm(`${svc.url}/token`, { grant_type: 'authorization_code', client_id: MCP, code: redirect.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier, resource: CRM });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.token_type, 'Bearer');
    const { payload } = await jwtVerify(res.body.access_token as string, createLocalJWKSet(svc.service.keys.publicJwks as never), { issuer: svc.url, audience: CRM });
    assert.equal(payload.cnf, undefined);
  });
});

describe('DPoP required at the code and refresh grants', () => {
  // A tool server that requires DPoP (toolServers[].requireDpop), and a confidential agent that logs in and refreshes.
  const LEDGER = 'http://tools.test/ledger/mcp';
  let svc: TestService & { keysDir: string };
  const events: ExchangeDecisionEvent[] = [];
  /** Refresh tokens oidc-provider saved, by value (opaque: the value is the id), to look them up after a refusal. */
  const saved: string[] = [];
  /** Destroys the next refresh token right after oidc-provider saved it (a revocation racing the response). */
  let dropNextRefreshToken = false;
  before(async () => {
    svc = await startService({
      extra: (port) => {
        const config = codeFlowConfig(port);
        return {
          ...config,
          clients: config.clients!.map((c) => (c.client_id === 'agent' ? { ...c, grant_types: ['authorization_code', 'refresh_token', EXCHANGE] } : c)),
          toolServers: [...testConfig(port, '', '').toolServers!, { resource: LEDGER, scopes: ['ledger.read'], requireDpop: true, maxTtlSeconds: 300 }],
          agents: config.agents!.map((a) => (a.clientId === MCP || a.clientId === 'agent' ? { ...a, toolServers: [...a.toolServers!, { resource: LEDGER, scopes: ['ledger.read'] }] } : a)),
        };
      },
    });
    svc.service.events.on((e) => {
      if (e.type === 'exchange') events.push(e);
    });
    svc.service.provider.on('refresh_token.saved', (token: { jti: string; destroy(): Promise<void> }) => {
      saved.push(token.jti);
      if (dropNextRefreshToken) {
        dropNextRefreshToken = false;
        void token.destroy();
      }
    });
  });
  after(() => svc.stop());

  const REQUIRED = { error: 'invalid_request', error_description: 'a DPoP proof is required' };
  /** oidc-provider's own refusal of a refresh token bound to another key, or presented without a proof. */
  const UNBOUND = { error: 'invalid_grant', error_description: 'grant request is invalid' };
  const jwks = () => createLocalJWKSet(svc.service.keys.publicJwks as never);
  const auth = (clientId: string): Record<string, string> => (clientId === 'agent' ? { authorization: svc.basic('agent') } : {});

  /** Login (code + PKCE) of `clientId` for `resource` (absent: this service itself), with a proof of `key` if given. */
  async function login(clientId: string, resource: string | undefined, key: Key | undefined, scope = 'openid offline_access crm.lookup_customer', granted: string[] = []) {
    const { redirect, verifier } = await authorize(svc, { clientId, resource: resource ? [resource, ...granted] : undefined, scope });
    const code = redirect.searchParams.get('code');
    assert.ok(code, redirect.href);
    return postForm(`${svc.url}/token`, { grant_type: 'authorization_code', client_id: clientId, code, redirect_uri: REDIRECT, code_verifier: verifier, resource }, {
      ...auth(clientId),
      ...(key ? { dpop: await proofFor(key, svc.url) } : {}),
    });
  }
  const refreshWith = async (clientId: string, refreshToken: string, resource: string | undefined, key: Key | undefined) =>
    postForm(`${svc.url}/token`, { grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken, resource }, {
      ...auth(clientId),
      ...(key ? { dpop: await proofFor(key, svc.url) } : {}),
    });

  describe('toolServers[].requireDpop (as at the exchange)', () => {
    it('code grant for it without a proof → invalid_request, audited, nothing issued; with a proof → a bound token', async () => {
      const before = saved.length;
      const none = await login(MCP, LEDGER, undefined, 'openid offline_access ledger.read');
      assert.deepEqual([none.status, none.body], [400, REQUIRED]);
      assert.equal(none.headers.get('cache-control'), 'no-store');
      const event = events.at(-1)!;
      assert.deepEqual([event.grantType, event.decision, event.error, event.reasons, event.toolServer], ['authorization_code', 'deny', 'invalid_request', ['dpop_required_by_tool_server'], LEDGER]);
      // The refresh token oidc-provider saved for that response was destroyed with it.
      const issued = saved.slice(before);
      assert.equal(issued.length, 1);
      assert.equal(await svc.service.provider.RefreshToken.find(issued[0]!), undefined);

      const key = await newKey();
      const ok = await login(MCP, LEDGER, key, 'openid offline_access ledger.read');
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.token_type, 'DPoP');
      const { payload } = await jwtVerify(ok.body.access_token as string, jwks(), { issuer: svc.url, audience: LEDGER });
      assert.deepEqual(payload.cnf, { jkt: key.jkt });
    });

    it('refresh for it without a proof → invalid_request, audited, nothing issued (the presented refresh token was already rotated: the chain ends, as for any refusal after oidc-provider answered)', async () => {
      // An unbound login for another resource; the grant covers LEDGER too (both asked for at /auth, RFC 8707 §2).
      const first = await login(MCP, CRM, undefined, 'openid offline_access crm.lookup_customer ledger.read', [LEDGER]);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.token_type, 'Bearer');
      const before = saved.length;
      const none = await refreshWith(MCP, first.body.refresh_token as string, LEDGER, undefined);
      assert.deepEqual([none.status, none.body], [400, REQUIRED]);
      const event = events.at(-1)!;
      assert.deepEqual([event.grantType, event.decision, event.error, event.reasons], ['refresh_token', 'deny', 'invalid_request', ['dpop_required_by_tool_server']]);
      // The rotated refresh token oidc-provider saved for that response is destroyed; the presented one is consumed.
      const rotated = saved.slice(before);
      assert.equal(rotated.length, 1);
      assert.equal(await svc.service.provider.RefreshToken.find(rotated[0]!), undefined);
      assert.equal((await refreshWith(MCP, first.body.refresh_token as string, CRM, undefined)).body.error, 'invalid_grant');

      // With a proof, the same refresh yields a bound token for it.
      const second = await login(MCP, CRM, undefined, 'openid offline_access crm.lookup_customer ledger.read', [LEDGER]);
      const key = await newKey();
      const ok = await refreshWith(MCP, second.body.refresh_token as string, LEDGER, key);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.token_type, 'DPoP');
      assert.deepEqual(decodeJwt(ok.body.access_token as string).cnf, { jkt: key.jkt });
    });
  });

  describe('a grant a proof bound keeps requiring that key at refresh (confidential clients too)', () => {
    for (const resource of [CRM, undefined]) {
      it(`confidential client, ${resource ? 'tool server' : 'this service (the user token)'}: refresh without a proof or with another key → invalid_grant, the refresh token unspent; with the key → bound`, async () => {
        const key = await newKey();
        const first = await login('agent', resource, key);
        assert.equal(first.status, 200, JSON.stringify(first.body));
        assert.equal(first.body.token_type, 'DPoP');
        const refreshToken = first.body.refresh_token as string;

        const none = await refreshWith('agent', refreshToken, resource, undefined);
        assert.deepEqual([none.status, none.body], [400, UNBOUND]);
        const other = await refreshWith('agent', refreshToken, resource, await newKey());
        assert.deepEqual([other.status, other.body], [400, UNBOUND]);
        // The refresh token record carries the key (oidc-provider keeps it on every rotation).
        assert.equal((await svc.service.provider.RefreshToken.find(refreshToken))?.jkt, key.jkt);

        // Refused before oidc-provider consumed it: the same refresh token still works, with the key.
        const again = await refreshWith('agent', refreshToken, resource, key);
        assert.equal(again.status, 200, JSON.stringify(again.body));
        assert.equal(again.body.token_type, 'DPoP');
        if (resource) {
          assert.deepEqual(decodeJwt(again.body.access_token as string).cnf, { jkt: key.jkt });
        } else {
          // The user token is bound: the exchange without a proof is refused, as for the login's own token.
          const exchange = await postForm(`${svc.url}/token`, { grant_type: EXCHANGE, subject_token: again.body.access_token as string, subject_token_type: AT, resource: CRM }, { authorization: svc.basic('agent') });
          assert.deepEqual([exchange.status, exchange.body], [400, REQUIRED]);
        }
        // And the rotated refresh token is bound to the same key.
        const rotated = await refreshWith('agent', again.body.refresh_token as string, resource, undefined);
        assert.deepEqual([rotated.status, rotated.body], [400, UNBOUND]);
      });
    }

    for (const resource of [CRM, undefined]) {
      it(`a refresh token gone before it could be bound (${resource ? 'tool server' : 'this service'}): 400 invalid_grant, nothing leaves (fail closed)`, async () => {
        dropNextRefreshToken = true;
        const res = await login('agent', resource, await newKey());
        assert.deepEqual([res.status, res.body], [400, { error: 'invalid_grant', error_description: 'the grant has been revoked' }]);
        if (resource) assert.deepEqual([events.at(-1)!.decision, events.at(-1)!.reasons], ['deny', ['grant_ended']]);
      });
    }

    it('confidential client without a proof at login: refresh tokens stay unbound (Bearer, refresh without a proof)', async () => {
      const first = await login('agent', CRM, undefined);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.token_type, 'Bearer');
      assert.equal((await svc.service.provider.RefreshToken.find(first.body.refresh_token as string))?.jkt, undefined);
      const again = await refreshWith('agent', first.body.refresh_token as string, CRM, undefined);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.token_type, 'Bearer');
    });

    it('public client: an unbound login whose refresh carried a proof is bound from then on', async () => {
      const first = await login(MCP, CRM, undefined);
      assert.equal(first.body.token_type, 'Bearer');
      const key = await newKey();
      const bound = await refreshWith(MCP, first.body.refresh_token as string, CRM, key);
      assert.equal(bound.status, 200, JSON.stringify(bound.body));
      assert.equal(bound.body.token_type, 'DPoP');
      const none = await refreshWith(MCP, bound.body.refresh_token as string, CRM, undefined);
      assert.deepEqual([none.status, none.body], [400, UNBOUND]);
      const again = await refreshWith(MCP, bound.body.refresh_token as string, CRM, key);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.deepEqual(decodeJwt(again.body.access_token as string).cnf, { jkt: key.jkt });
    });
  });
});
