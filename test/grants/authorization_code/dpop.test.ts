// A DPoP-bound login to a tool-server resource yields a DPoP-bound delegation token (RFC 9449 §5): the opaque token's
// binding (oidc-provider's `jkt`) is carried into `cnf.jkt`, at the code grant and at refresh. Real service, real Redis.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';
import { postForm } from '../../helpers/http.js';
import { CRM, REDIRECT, type TestService } from '../../helpers/service.js';
import { introspectDelegation } from '../../admin/helpers.js';
import { authorize, MCP, startCodeFlowService } from './helpers.js';

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
