// Whole flows over HTTP against real Redis, single and Cluster: login -> agent exchange -> verify with jose -> multi-hop ->
// external IdP.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { exchangeFor, loginUser } from '../helpers/http.js';
import { AT, BILLING, CRM, startService, type TestService } from '../helpers/service.js';
import { startTestIdp, type TestIdp } from '../helpers/test_idp.js';

for (const backend of ['redis', 'redis cluster'] as const) describe(`delegation flow end to end (${backend})`, () => {
  let svc: TestService;
  let idp: TestIdp;

  before(async () => {
    idp = await startTestIdp();
    svc = await startService({
      cluster: backend === 'redis cluster',
      extra: (port) => ({
        trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri, audience: `http://127.0.0.1:${port}`, allowedScopes: ['crm.lookup_customer'] }],
      }),
    });
  });
  after(async () => {
    await svc.stop();
    await idp.stop();
  });

  it('user logs in, agent exchanges for CRM with a narrower scope, the token verifies against /jwks', async () => {
    const user = await loginUser(svc, { username: 'bob' });
    assert.equal(user.scope, 'crm.lookup_customer crm.export_customers billing.refund_lookup');
    const res = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.body.issued_token_type, AT);
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(res.body.scope, 'crm.lookup_customer');
    assert.equal(res.body.expires_in, 300);
    assert.equal('refresh_token' in res.body, false);

    const jwks = createRemoteJWKSet(new URL(`${svc.url}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(res.body.access_token as string, jwks, {
      issuer: svc.url,
      audience: CRM,
      typ: 'at+jwt',
    });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(typeof protectedHeader.kid, 'string');
    assert.equal(payload.sub, 'user-bob');
    assert.equal(payload.client_id, 'agent');
    assert.equal(payload.scope, 'crm.lookup_customer');
    assert.deepEqual(payload.act, { sub: 'agent' });
    assert.equal(typeof payload.sid, 'string');
    assert.equal(typeof payload.jti, 'string');
    assert.equal(payload.exp! - payload.iat!, 300);
    assert.equal(typeof payload.auth_time, 'number');
  });

  it('no scope requested: the policy default set, narrowed to the user grant', async () => {
    const user = await loginUser(svc, { username: 'alice' });
    const res = await exchangeFor(svc, 'agent', user.accessToken, CRM);
    assert.equal(res.status, 200);
    assert.equal(res.body.scope, 'crm.lookup_customer');
  });

  it('the CRM tool server re-exchanges for billing: act nests, sub and sid are unchanged, nothing widens', async () => {
    const user = await loginUser(svc, { username: 'bob' });
    const crm = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer billing.refund_lookup' });
    assert.equal(crm.status, 200, JSON.stringify(crm.body));
    const crmClaims = decodeJwt(crm.body.access_token as string);

    const hop = await exchangeFor(svc, 'crm-server', crm.body.access_token as string, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(hop.status, 200, JSON.stringify(hop.body));
    assert.equal(hop.body.scope, 'billing.refund_lookup');
    const jwks = createRemoteJWKSet(new URL(`${svc.url}/jwks`));
    const { payload } = await jwtVerify(hop.body.access_token as string, jwks, { issuer: svc.url, audience: BILLING, typ: 'at+jwt' });
    assert.equal(payload.sub, 'user-bob');
    assert.equal(payload.sid, crmClaims.sid);
    assert.equal(payload.client_id, 'crm-server');
    // RFC 8693 §4.1: current actor outermost, prior actors nested; no exp/nbf/aud inside act.
    assert.deepEqual(payload.act, { sub: 'crm-server', act: { sub: 'agent' } });
    assert.ok(payload.exp! <= crmClaims.exp!);
    assert.equal(payload.exp! - payload.iat!, 120);
  });

  it('a tool server re-exchanging the same token: verified once, but binding and revocation checked every time', async () => {
    const user = await loginUser(svc, { username: 'bob' });
    const crm = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer billing.refund_lookup' });
    const token = crm.body.access_token as string;
    for (let i = 0; i < 2; i++) {
      const hop = await exchangeFor(svc, 'crm-server', token, BILLING, { scope: 'billing.refund_lookup' });
      assert.equal(hop.status, 200, JSON.stringify(hop.body));
    }
    const stolen = await exchangeFor(svc, 'billing-server', token, BILLING, { scope: 'billing.refund_lookup' });
    assert.deepEqual(stolen.body, { error: 'invalid_request', error_description: 'subject_token is invalid' });
    await svc.service.revocation.revoke({ kind: 'jti', value: decodeJwt(token).jti!, by: 'test' });
    const revoked = await exchangeFor(svc, 'crm-server', token, BILLING, { scope: 'billing.refund_lookup' });
    assert.deepEqual(revoked.body, { error: 'invalid_request', error_description: 'subject_token is invalid' });
    // The same claims under another signature are not the cached token: refused.
    const [h, p] = token.split('.');
    const forged = await exchangeFor(svc, 'crm-server', `${h}.${p}.${'A'.repeat(86)}`, BILLING, { scope: 'billing.refund_lookup' });
    assert.deepEqual(forged.body, { error: 'invalid_request', error_description: 'subject_token is invalid' });
  });

  it('multi-hop never widens: a scope the CRM token lacks is refused downstream', async () => {
    const user = await loginUser(svc, { username: 'bob' });
    const crm = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer' });
    const widened = await exchangeFor(svc, 'crm-server', crm.body.access_token as string, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(widened.status, 400);
    assert.deepEqual(widened.body, { error: 'invalid_scope', error_description: 'the requested scope is not allowed' });
  });

  it('only the client registered for the token audience may re-exchange a delegation token', async () => {
    const user = await loginUser(svc, { username: 'bob' });
    const crm = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer' });
    const stolen = await exchangeFor(svc, 'billing-server', crm.body.access_token as string, CRM, { scope: 'crm.lookup_customer' });
    assert.equal(stolen.status, 400);
    assert.deepEqual(stolen.body, { error: 'invalid_request', error_description: 'subject_token is invalid' });
  });

  it('an external IdP JWT is exchanged the same way, with a namespaced sub and sid', async () => {
    const idToken = await idp.sign({ sub: 'ext-carol', aud: svc.url, sid: 'idp-session-1', groups: ['support'] });
    const res = await exchangeFor(svc, 'agent', idToken, CRM, { subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const claims = decodeJwt(res.body.access_token as string);
    assert.match(claims.sub as string, /^x-[\w-]{10}\|ext-carol$/);
    assert.match(claims.sid as string, /^x-[\w-]{10}\.idp-session-1$/);
    assert.equal((claims.sub as string).split('|')[0], (claims.sid as string).split('.')[0]);
    assert.equal(claims.scope, 'crm.lookup_customer');
    assert.deepEqual(claims.act, { sub: 'agent' });
  });
});
