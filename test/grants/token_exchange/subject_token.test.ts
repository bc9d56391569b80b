// RFC 8693 §2.1/§2.2.2: subject token validation and binding. A bad subject token "for any reason" is invalid_request
// with one fixed description; the cause stays on the server.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { exchangeFor, loginUser, postForm } from '../../helpers/http.js';
import { Browser } from '../../helpers/browser.js';
import { startTestIdp, unsecured, type TestIdp } from '../../helpers/test_idp.js';
import { AT, BILLING, CRM, ID_TOKEN, JWT_TYPE, startService, type TestService } from '../../helpers/service.js';

const SUBJECT_INVALID = { error: 'invalid_request', error_description: 'subject_token is invalid' };

describe('subject_token validation', () => {
  let svc: TestService;
  let idp: TestIdp;
  let foreign: TestIdp;
  const now = () => Math.floor(Date.now() / 1000);
  const userClaims = (extra: Record<string, unknown> = {}) => ({ sub: 'ext-carol', aud: svc.url, sid: 'idp-session-1', ...extra });

  async function assertSubjectInvalid(token: string, type: string, clientId = 'agent', resource = CRM) {
    const res = await exchangeFor(svc, clientId, token, resource, { subject_token_type: type });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.deepEqual(res.body, SUBJECT_INVALID);
    assert.equal(res.headers.get('cache-control'), 'no-store');
  }

  before(async () => {
    [idp, foreign] = await Promise.all([startTestIdp(), startTestIdp()]);
    svc = await startService({
      extra: (port) => ({
        trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri, audience: `http://127.0.0.1:${port}`, allowedScopes: ['crm.lookup_customer'] }],
      }),
    });
  });
  after(async () => {
    await svc.stop();
    await Promise.all([idp.stop(), foreign.stop()]);
  });

  it('TE-05 an external JWT that expired beyond the leeway: invalid_request, not invalid_grant', async () => {
    await assertSubjectInvalid(await idp.sign(userClaims({ iat: now() - 900, exp: now() - 600 })), JWT_TYPE);
  });

  it('TE-05 a badly signed external JWT: invalid_request', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await assertSubjectInvalid(await idp.sign(userClaims(), {}, { key: privateKey }), JWT_TYPE);
    const good = await idp.sign(userClaims());
    // The signature's first character changed (its top bits, so the decoded signature always differs).
    const at = good.lastIndexOf('.') + 1;
    const tampered = `${good.slice(0, at)}${good[at] === 'A' ? 'B' : 'A'}${good.slice(at + 1)}`;
    assert.notEqual(tampered, good);
    await assertSubjectInvalid(tampered, JWT_TYPE);
  });

  it('TE-05 a JWT from an issuer that is not trusted: invalid_request', async () => {
    await assertSubjectInvalid(await foreign.sign(userClaims()), JWT_TYPE);
    await assertSubjectInvalid(await foreign.sign(userClaims(), { typ: 'at+jwt' }), AT);
    assert.equal(foreign.jwksFetches(), 0);
  });

  it('TE-05 a trusted IdP JWT for another audience: invalid_request', async () => {
    await assertSubjectInvalid(await idp.sign(userClaims({ aud: 'https://someone-else.example' })), JWT_TYPE);
  });

  it('TE-05 mistyped: an external ID token (typ JWT) sent as access_token: invalid_request', async () => {
    await assertSubjectInvalid(await idp.sign(userClaims(), { typ: 'JWT' }), AT);
    await assertSubjectInvalid(await idp.sign(userClaims()), AT);
  });

  it('TE-05 mistyped: our own ID token sent as access_token or id_token: invalid_request', async () => {
    const { idToken } = await loginUser(svc);
    assert.ok(idToken);
    await assertSubjectInvalid(idToken, AT);
    await assertSubjectInvalid(idToken, ID_TOKEN);
  });

  it('TE-05 mistyped: our delegation token sent as id_token: invalid_request', async () => {
    const user = await loginUser(svc, { username: 'bob' });
    const crm = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'billing.refund_lookup' });
    assert.equal(crm.status, 200);
    await assertSubjectInvalid(crm.body.access_token as string, ID_TOKEN, 'crm-server', BILLING);
    // The same token with its real type is accepted, so it is the type that was refused.
    const ok = await exchangeFor(svc, 'crm-server', crm.body.access_token as string, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  it('TE-05 a forged delegation token (our iss and kid, another key; or alg none): invalid_request', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = svc.service.keys.signing.kid;
    const claims = { iss: svc.url, sub: 'user-bob', aud: CRM, client_id: 'agent', scope: 'crm.lookup_customer', sid: 'sid-1', act: { sub: 'agent' }, jti: 'j1', iat: now(), exp: now() + 60 };
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(privateKey);
    await assertSubjectInvalid(forged, AT, 'crm-server', BILLING);
    await assertSubjectInvalid(unsecured({ alg: 'none', typ: 'at+jwt', kid }, claims), JWT_TYPE, 'crm-server', BILLING);
  });

  it('TE-05 an unknown opaque token, and strings that cannot be one: invalid_request', async () => {
    for (const token of ['f'.repeat(43), 'short', 'has spaces in it and is long enough', 'x'.repeat(4096)]) await assertSubjectInvalid(token, AT);
  });

  it('TE-05 a client_credentials token is not a user token: invalid_request', async () => {
    const cc = await postForm(`${svc.url}/token`, { grant_type: 'client_credentials', resource: CRM, scope: 'crm.lookup_customer' }, { authorization: svc.basic('admin-cli') });
    assert.equal(cc.status, 200, JSON.stringify(cc.body));
    await assertSubjectInvalid(cc.body.access_token as string, AT, 'crm-server', BILLING);
    const opaque = await postForm(`${svc.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: svc.basic('admin-cli') });
    assert.equal(opaque.status, 200, JSON.stringify(opaque.body));
    await assertSubjectInvalid(opaque.body.access_token as string, AT, 'agent');
  });

  it('TE-05 a user token whose session ended (RP-initiated logout over HTTP): invalid_request', async () => {
    const browser = new Browser(svc);
    const token = await browser.login();
    const derived = await exchangeFor(svc, 'agent', token, CRM, { scope: 'crm.lookup_customer' });
    assert.equal(derived.status, 200);
    const introspect = () => postForm(`${svc.url}/token/introspection/delegation`, { token: derived.body.access_token as string }, { authorization: svc.basic('crm-server') });
    assert.equal((await introspect()).body.active, true);
    await browser.logout();
    await assertSubjectInvalid(token, AT);
    // A full logout revokes the session for tool servers too: the delegation token derived from it is dead.
    let body: Record<string, unknown> = {};
    for (let i = 0; i < 20 && body.active !== false; i++) {
      body = (await introspect()).body;
      if (body.active !== false) await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(body, { active: false });
  });

  it('TE-05 a user token revoked at the revocation endpoint (RFC 7009): invalid_request', async () => {
    const { accessToken } = await loginUser(svc);
    const revoked = await postForm(`${svc.url}/token/revocation`, { token: accessToken }, { authorization: svc.basic('agent') });
    assert.equal(revoked.status, 200);
    await assertSubjectInvalid(accessToken, AT);
  });

  it('binding: a user token issued to agent presented by agent2: invalid_request', async () => {
    const { accessToken } = await loginUser(svc);
    await assertSubjectInvalid(accessToken, AT, 'agent2');
  });

  it('binding: a user outside the rule groups (alice, support -> BILLING needs finance): invalid_request', async () => {
    const { accessToken } = await loginUser(svc, { username: 'alice' });
    const res = await exchangeFor(svc, 'agent', accessToken, BILLING);
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'the subject may not be delegated to this client' });
    const bob = await loginUser(svc, { username: 'bob' });
    assert.equal((await exchangeFor(svc, 'agent', bob.accessToken, BILLING)).status, 200);
  });

  it('TE-09 may_act naming another actor: invalid_request', async () => {
    for (const may_act of [{ sub: 'someone-else' }, { sub: 'agent', iss: 'https://other-issuer.example' }, { iss: svc.url }]) {
      await assertSubjectInvalid(await idp.sign(userClaims({ may_act })), JWT_TYPE);
    }
  });

  it('TE-09 a malformed may_act: invalid_request', async () => {
    for (const may_act of ['agent', ['agent'], { sub: 42 }]) await assertSubjectInvalid(await idp.sign(userClaims({ may_act })), JWT_TYPE);
  });

  it('TE-09 may_act naming the authenticated client: 200', async () => {
    for (const may_act of [{ sub: 'agent' }, { sub: 'agent', iss: svc.url }]) {
      const res = await exchangeFor(svc, 'agent', await idp.sign(userClaims({ may_act })), CRM, { subject_token_type: JWT_TYPE });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
  });
});
