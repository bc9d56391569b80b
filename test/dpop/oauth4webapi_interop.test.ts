// DPoP interop with oauth4webapi (panva's OAuth client/RS library): its client side (DPoP handle, token exchange at our
// issuer, protected resource requests) against our issuer and the verify SDK's mcpAuth; and its resource-server side
// (validateJwtAccessToken with DPoP) accepting what our issuer issues. Real service, real Redis.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import * as oauth from 'oauth4webapi';
import { generateKeyPair, exportJWK, SignJWT, calculateJwkThumbprint } from 'jose';
import { createVerifier, mcpAuth, resourceMetadataUrl } from 'delegation-token-verify';
import { loginUser } from '../helpers/http.js';
import { AT, CRM, startService, type TestService } from '../helpers/service.js';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const PATH = new URL(CRM).pathname;

describe('DPoP interop with oauth4webapi', () => {
  let svc: TestService;
  let rs: Server;
  let rsUrl: string;
  let as: oauth.AuthorizationServer;
  let userToken: string;
  const client: oauth.Client = { client_id: 'agent' };
  let clientAuth: oauth.ClientAuth;
  const insecure = { [oauth.allowInsecureRequests]: true };

  before(async () => {
    svc = await startService();
    userToken = (await loginUser(svc, { username: 'bob' })).accessToken;
    const secret = decodeURIComponent(Buffer.from(svc.basic('agent').slice(6), 'base64').toString().split(':')[1]!);
    clientAuth = oauth.ClientSecretBasic(secret);
    as = await oauth.processDiscoveryResponse(new URL(svc.url), await oauth.discoveryRequest(new URL(svc.url), { algorithm: 'oidc', ...insecure }));
    const app = express();
    // The tool server is reached on 127.0.0.1 here, so its public URL is that address (publicUrl option).
    app.post(PATH, mcpAuth(createVerifier({ issuer: svc.url, audience: CRM }), {
      resourceMetadataUrl: resourceMetadataUrl(CRM),
      publicUrl: (req) => `${rsUrl.replace(PATH, '')}${req.url}`,
    }), (req, res) => res.json({ auth: (req as unknown as { auth: unknown }).auth }));
    rs = createServer(app);
    await new Promise<void>((resolve) => rs.listen(0, '127.0.0.1', resolve));
    rsUrl = `http://127.0.0.1:${(rs.address() as AddressInfo).port}${PATH}`;
  });
  after(async () => {
    rs.close();
    await svc.stop();
  });

  async function exchangeWith(DPoP: oauth.DPoPHandle) {
    const params = { subject_token: userToken, subject_token_type: AT, resource: CRM, scope: 'crm.lookup_customer' };
    const response = await oauth.genericTokenEndpointRequest(as, client, clientAuth, EXCHANGE, params, { DPoP, ...insecure });
    return oauth.processGenericTokenEndpointResponse(as, client, response);
  }

  it("oauth4webapi's client: its DPoP proof at our token exchange, then its protected resource requests accepted by mcpAuth", async () => {
    const keyPair = await generateKeyPair('ES256');
    const DPoP = oauth.DPoP(client, keyPair);
    const token = await exchangeWith(DPoP);
    assert.equal(token.token_type, 'dpop');
    const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
    for (let i = 0; i < 2; i++) {
      const res = await oauth.protectedResourceRequest(token.access_token, 'POST', new URL(rsUrl), new Headers({ 'content-type': 'application/json' }), '{}', { DPoP, ...insecure });
      assert.equal(res.status, 200, await res.clone().text());
      const body = (await res.json()) as { auth: { extra: { jkt: string }; clientId: string } };
      assert.equal(body.auth.extra.jkt, jkt);
      assert.equal(body.auth.clientId, 'agent');
    }
    // The same token with another client's key: refused.
    const thief = oauth.DPoP(client, await generateKeyPair('ES256'));
    await assert.rejects(oauth.protectedResourceRequest(token.access_token, 'POST', new URL(rsUrl), new Headers(), '{}', { DPoP: thief, ...insecure }), (err: oauth.WWWAuthenticateChallengeError) => {
      assert.equal(err.status, 401);
      // oauth4webapi parses our challenge: scheme dpop, error, description, algs, resource_metadata.
      assert.deepEqual(err.cause.map((c) => [c.scheme, c.parameters.error, c.parameters.error_description, c.parameters.algs, c.parameters.resource_metadata]), [
        ['dpop', 'invalid_dpop_proof', 'DPoP proof key does not match the token', 'ES256 EdDSA RS256 PS256', resourceMetadataUrl(CRM)],
      ]);
      return true;
    });
  });

  it("oauth4webapi's validateJwtAccessToken with DPoP accepts our issuer's bound delegation token; refuses it as Bearer", async () => {
    const keyPair = await generateKeyPair('ES256', { extractable: true });
    const token = await exchangeWith(oauth.DPoP(client, keyPair));
    const jwk = await exportJWK(keyPair.publicKey);
    const proof = await new SignJWT({
      htm: 'POST', htu: CRM, iat: Math.floor(Date.now() / 1000), jti: randomBytes(16).toString('base64url'),
      ath: createHash('sha256').update(token.access_token).digest('base64url'),
    }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(keyPair.privateKey);
    const request = new Request(CRM, { method: 'POST', headers: { authorization: `DPoP ${token.access_token}`, dpop: proof } });
    const claims = await oauth.validateJwtAccessToken(as, request, CRM, { requireDPoP: true, ...insecure });
    assert.deepEqual(claims.cnf, { jkt: await calculateJwkThumbprint(jwk) });
    assert.equal(claims.client_id, 'agent');
    const asBearer = new Request(CRM, { method: 'POST', headers: { authorization: `Bearer ${token.access_token}` } });
    await assert.rejects(oauth.validateJwtAccessToken(as, asBearer, CRM, insecure));
  });
});
