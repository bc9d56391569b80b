// DP-04 and every resource-server DPoP rule (RFC 9449 §4.3, §7, §9, §11.1), end to end: the real service issues a
// DPoP-bound delegation token (exchange with a proof), an Express tool server protected by the verify SDK's `mcpAuth`
// (and `expressToolAuthorization` behind it) checks it against the service's JWKS. Exact statuses, challenges, bodies.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createVerifier, expressToolAuthorization, mcpAuth, resourceMetadataUrl, type Verifier } from 'delegation-token-verify';
import { exchangeFor, loginUser, postForm } from '../helpers/http.js';
import { AT, CRM, startService, type TestService } from '../helpers/service.js';

const METADATA = resourceMetadataUrl(CRM);
const ALGS = 'algs="ES256 EdDSA RS256 PS256"';
const challenge = (error: string, description: string) =>
  `DPoP error="${error}", error_description="${description}", ${ALGS}, resource_metadata="${METADATA}"`;
const PATH = new URL(CRM).pathname;

interface Key { privateKey: CryptoKey; jwk: JWK; jkt: string }
async function newKey(): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

interface ProofOptions { htm?: string; htu?: string; iat?: number; jti?: string; ath?: string | null; nonce?: string }
const ath = (token: string) => createHash('sha256').update(token).digest('base64url');
function proof(key: Key, token: string, o: ProofOptions = {}) {
  return new SignJWT({
    htm: o.htm ?? 'POST', htu: o.htu ?? CRM, iat: o.iat ?? Math.floor(Date.now() / 1000), jti: o.jti ?? randomBytes(16).toString('base64url'),
    ...(o.ath === null ? {} : { ath: o.ath ?? ath(token) }), ...(o.nonce ? { nonce: o.nonce } : {}),
  }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk }).sign(key.privateKey);
}

/** An MCP-ish tool server: mcpAuth, then the per-call tool authorization, then a handler echoing req.auth. */
async function toolServer(verifier: Verifier): Promise<{ url: string; server: Server }> {
  const app = express();
  app.use(express.json());
  app.post(PATH, mcpAuth(verifier, { resourceMetadataUrl: METADATA }), expressToolAuthorization({ resourceMetadataUrl: METADATA, dpopAlgorithms: verifier.dpopAlgorithms }), (req, res) => {
    res.json({ auth: (req as unknown as { auth: unknown }).auth });
  });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${PATH}`, server };
}

const CALL = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'crm.lookup_customer', arguments: { id: 'c-1' } } };

async function send(url: string, headers: Array<[string, string]>, body: unknown = CALL) {
  const h = new Headers({ 'content-type': 'application/json', accept: 'application/json, text/event-stream' });
  for (const [k, v] of headers) h.append(k, v);
  const res = await fetch(url, { method: 'POST', headers: h, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

describe('DP-04: the verify SDK as a DPoP resource server (mcpAuth) for tokens from the real service', () => {
  let svc: TestService;
  let rs: { url: string; server: Server };
  let rsNonce: { url: string; server: Server };
  let key: Key;
  let bound: string;
  let bearer: string;

  before(async () => {
    svc = await startService();
    const user = await loginUser(svc, { username: 'bob' });
    key = await newKey();
    const htu = `${svc.url}/token`;
    const tokenProof = await new SignJWT({ htm: 'POST', htu, iat: Math.floor(Date.now() / 1000), jti: randomBytes(16).toString('base64url') })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk }).sign(key.privateKey);
    const res = await postForm(`${svc.url}/token`, { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: user.accessToken, subject_token_type: AT, resource: CRM, scope: 'crm.lookup_customer' }, { authorization: svc.basic('agent'), dpop: tokenProof });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.token_type, 'DPoP');
    bound = res.body.access_token as string;
    const plain = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer' });
    bearer = plain.body.access_token as string;
    rs = await toolServer(createVerifier({ issuer: svc.url, audience: CRM }));
    rsNonce = await toolServer(createVerifier({ issuer: svc.url, audience: CRM, dpop: { nonceSecret: randomBytes(32) } }));
  });
  after(async () => {
    rs.server.close();
    rsNonce.server.close();
    await svc.stop();
  });

  const dpopAuth = (token = bound): [string, string] => ['authorization', `DPoP ${token}`];

  it('a valid proof: 200, req.auth is the MCP SDK AuthInfo with extra.jkt; a fresh proof with the same (cached) token passes again', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await send(rs.url, [dpopAuth(), ['dpop', await proof(key, bound)]]);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.auth.token, bound);
      assert.equal(res.body.auth.clientId, 'agent');
      assert.deepEqual(res.body.auth.scopes, ['crm.lookup_customer']);
      assert.equal(res.body.auth.resource, CRM);
      assert.equal(res.body.auth.extra.jkt, key.jkt);
      assert.equal(res.headers.get('dpop-nonce'), null);
    }
  });

  it('htu is normalised (scheme and host case, default port, query and fragment) and compared with the public URL, not the arrival address', async () => {
    const res = await send(rs.url, [dpopAuth(), ['dpop', await proof(key, bound, { htu: `HTTP://TOOLS.TEST:80${PATH}?x=1#f` })]]);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const arrival = await send(rs.url, [dpopAuth(), ['dpop', await proof(key, bound, { htu: rs.url })]]);
    assert.equal(arrival.status, 401);
    assert.equal(arrival.headers.get('www-authenticate'), challenge('invalid_dpop_proof', 'invalid DPoP proof'));
  });

  const INVALID = { error: 'invalid_dpop_proof', error_description: 'invalid DPoP proof' };
  const refusals: Array<[string, () => Promise<Array<[string, string]>>, { error: string; error_description: string }]> = [
    ['bad ath (over another token)', async () => [dpopAuth(), ['dpop', await proof(key, bound, { ath: ath('another token') })]], INVALID],
    ['no ath', async () => [dpopAuth(), ['dpop', await proof(key, bound, { ath: null })]], INVALID],
    ['proof key ≠ cnf.jkt', async () => [dpopAuth(), ['dpop', await proof(await newKey(), bound)]], { error: 'invalid_dpop_proof', error_description: 'DPoP proof key does not match the token' }],
    ['no proof', async () => [dpopAuth()], { error: 'invalid_dpop_proof', error_description: 'DPoP proof missing' }],
    ['two DPoP headers', async () => [dpopAuth(), ['dpop', await proof(key, bound)], ['dpop', await proof(key, bound)]], INVALID],
    ['htm mismatch', async () => [dpopAuth(), ['dpop', await proof(key, bound, { htm: 'GET' })]], INVALID],
    ['htu mismatch (another path)', async () => [dpopAuth(), ['dpop', await proof(key, bound, { htu: 'http://tools.test/billing/mcp' })]], INVALID],
    ['iat 10 minutes old', async () => [dpopAuth(), ['dpop', await proof(key, bound, { iat: Math.floor(Date.now() / 1000) - 600 })]], INVALID],
    ['iat 10 minutes ahead', async () => [dpopAuth(), ['dpop', await proof(key, bound, { iat: Math.floor(Date.now() / 1000) + 600 })]], INVALID],
    // A kty naming an Object.prototype member must be refused like any unknown key type, not crash the thumbprint.
    ['jwk kty "constructor"', async () => [dpopAuth(), ['dpop', await new SignJWT({ htm: 'POST', htu: CRM, iat: Math.floor(Date.now() / 1000), jti: randomBytes(16).toString('base64url'), ath: ath(bound) })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: { ...key.jwk, kty: 'constructor' } }).sign(key.privateKey)]], INVALID],
    ['an unbound token as DPoP', async () => [dpopAuth(bearer), ['dpop', await proof(key, bearer)]], { error: 'invalid_token', error_description: 'token is not DPoP-bound' }],
  ];
  for (const [name, headers, body] of refusals) {
    it(`✗ ${name} → 401 with the DPoP challenge (algs, resource_metadata)`, async () => {
      const res = await send(rs.url, await headers());
      assert.equal(res.status, 401);
      assert.deepEqual(res.body, body);
      assert.equal(res.headers.get('www-authenticate'), challenge(body.error, body.error_description));
    });
  }

  it('✗ a replayed proof (same jti) → 401 invalid_dpop_proof "DPoP proof replayed"', async () => {
    const once = await proof(key, bound);
    assert.equal((await send(rs.url, [dpopAuth(), ['dpop', once]])).status, 200);
    const again = await send(rs.url, [dpopAuth(), ['dpop', once]]);
    assert.equal(again.status, 401);
    assert.deepEqual(again.body, { error: 'invalid_dpop_proof', error_description: 'DPoP proof replayed' });
    assert.equal(again.headers.get('www-authenticate'), challenge('invalid_dpop_proof', 'DPoP proof replayed'));
  });

  it('✗ the bound token presented as Bearer → 401 invalid_token with a DPoP challenge (RFC 9449 §7.2)', async () => {
    const res = await send(rs.url, [['authorization', `Bearer ${bound}`]]);
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, { error: 'invalid_token', error_description: 'sender-constrained token presented as bearer' });
    assert.equal(res.headers.get('www-authenticate'), challenge('invalid_token', 'sender-constrained token presented as bearer'));
  });

  it('no credentials → 401 with one Bearer and one DPoP challenge, no error code', async () => {
    const res = await send(rs.url, []);
    assert.equal(res.status, 401);
    assert.equal(res.body, undefined);
    assert.equal(res.headers.get('www-authenticate'), `Bearer resource_metadata="${METADATA}", DPoP ${ALGS}, resource_metadata="${METADATA}"`);
  });

  it('an unbound token as Bearer still works through mcpAuth', async () => {
    const res = await send(rs.url, [['authorization', `Bearer ${bearer}`]]);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.auth.extra.jkt, undefined);
  });

  it('the per-call tool authorization keeps working behind mcpAuth: a tool outside the scope → 403', async () => {
    const call = { ...CALL, params: { name: 'crm.export_customers', arguments: {} } };
    const res = await send(rs.url, [dpopAuth(), ['dpop', await proof(key, bound)]], call);
    assert.equal(res.status, 403);
    assert.equal(res.body.error, 'insufficient_scope');
    // RFC 9449 §7.1: a DPoP-bound token's challenges use the DPoP scheme and carry algs, the 403 included (as mcpAuth's).
    assert.equal(res.headers.get('www-authenticate'), `DPoP error="insufficient_scope", scope="crm.export_customers", ${ALGS}, resource_metadata="${METADATA}"`);
  });

  it('nonces (RFC 9449 §9): no nonce → 401 use_dpop_nonce with DPoP-Nonce; the retry with it passes; a stale one is refused the same way', async () => {
    const first = await send(rsNonce.url, [dpopAuth(), ['dpop', await proof(key, bound)]]);
    assert.equal(first.status, 401);
    assert.deepEqual(first.body, { error: 'use_dpop_nonce', error_description: 'resource server requires nonce in DPoP proof' });
    assert.equal(first.headers.get('www-authenticate'), challenge('use_dpop_nonce', 'resource server requires nonce in DPoP proof'));
    const nonce = first.headers.get('dpop-nonce');
    assert.match(nonce ?? '', /^[\w-]{43}$/);
    const retry = await send(rsNonce.url, [dpopAuth(), ['dpop', await proof(key, bound, { nonce: nonce! })]]);
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    assert.equal(retry.headers.get('dpop-nonce'), nonce);
    const stale = await send(rsNonce.url, [dpopAuth(), ['dpop', await proof(key, bound, { nonce: randomBytes(32).toString('base64url') })]]);
    assert.equal(stale.status, 401);
    assert.equal(stale.body.error, 'use_dpop_nonce');
    assert.equal(stale.headers.get('dpop-nonce'), nonce);
  });
});
