// RFC 8693 §2.1 actor_token and §4.1 `act`: who the current actor is, and how long the chain may grow.
// This service caps the chain at one actor (exchange.maxActDepth: 1) and adds `cc-agent`, an agent that may also use
// client_credentials, so it can present its own client token as actor_token (and shows what client_credentials issues).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { exchangeFor, loginUser, postForm } from '../../helpers/http.js';
import { startTestIdp, type TestIdp } from '../../helpers/test_idp.js';
import { adminToken, call } from '../../admin/helpers.js';
import { AT, BILLING, CRM, EXCHANGE, JWT_TYPE, REDIRECT, startService, testConfig, type TestService } from '../../helpers/service.js';

const ACTOR_INVALID = { error: 'invalid_request', error_description: 'actor_token is invalid' };

describe('actor_token and the act chain', () => {
  let svc: TestService;
  let idp: TestIdp;
  let foreign: TestIdp;
  const ccAgent = () => svc.basic('cc-agent');
  const clientToken = async (authorization: string, fields: Record<string, string> = {}) => {
    const res = await postForm(`${svc.url}/token`, { grant_type: 'client_credentials', ...fields }, { authorization });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.access_token as string;
  };
  const ccExchange = (subject: string, fields: Record<string, string>) =>
    postForm(`${svc.url}/token`, { grant_type: EXCHANGE, subject_token: subject, subject_token_type: AT, resource: CRM, ...fields }, { authorization: ccAgent() });

  before(async () => {
    [idp, foreign] = await Promise.all([startTestIdp(), startTestIdp()]);
    svc = await startService({
      extra: (port) => {
        const base = testConfig(port, '', '');
        return {
          exchange: { maxActDepth: 1 },
          clients: [
            ...base.clients!,
            { client_id: 'cc-agent', client_secret: { env: 'TEST_SECRET_AGENT' }, grant_types: ['authorization_code', 'client_credentials', EXCHANGE], redirect_uris: [REDIRECT] },
          ],
          agents: [...base.agents!, { clientId: 'cc-agent', toolServers: [{ resource: CRM, scopes: ['crm.lookup_customer'] }] }],
          trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri, audience: `http://127.0.0.1:${port}`, allowedScopes: ['crm.lookup_customer'] }],
        };
      },
    });
    // cc-agent shares agent's secret (env TEST_SECRET_AGENT), so the harness needs no new secret.
    svc.secrets['cc-agent'] = svc.secrets.agent!;
  });
  after(async () => {
    await svc.stop();
    await Promise.all([idp.stop(), foreign.stop()]);
  });

  it("actor_token: the client's own client_credentials token: 200, the client is the current actor", async () => {
    const user = await loginUser(svc, { clientId: 'cc-agent' });
    const actor = await clientToken(ccAgent());
    const res = await ccExchange(user.accessToken, { actor_token: actor, actor_token_type: AT });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(decodeJwt(res.body.access_token as string).act, { sub: 'cc-agent' });
  });

  it('actor_token: a client_credentials token of another client: invalid_request', async () => {
    const user = await loginUser(svc, { clientId: 'cc-agent' });
    const other = await clientToken(svc.basic('admin-cli'), { scope: 'admin' });
    const res = await ccExchange(user.accessToken, { actor_token: other, actor_token_type: AT });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, ACTOR_INVALID);
  });

  it('actor_token: an external actor JWT whose sub is the client: 200', async () => {
    const user = await loginUser(svc);
    const actor = await idp.sign({ sub: 'agent', aud: svc.url });
    const res = await exchangeFor(svc, 'agent', user.accessToken, CRM, { actor_token: actor, actor_token_type: JWT_TYPE });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(decodeJwt(res.body.access_token as string).act, { sub: 'agent' });
  });

  it('actor_token: an external actor JWT bound to another client: invalid_request', async () => {
    const user = await loginUser(svc);
    for (const claims of [{ sub: 'agent2' }, { sub: 'robot', client_id: 'agent2' }, { sub: 'robot' }]) {
      const actor = await idp.sign({ ...claims, aud: svc.url });
      const res = await exchangeFor(svc, 'agent', user.accessToken, CRM, { actor_token: actor, actor_token_type: JWT_TYPE });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, ACTOR_INVALID);
    }
  });

  it('actor_token: bound by client_id or azp instead of sub: 200', async () => {
    const user = await loginUser(svc);
    for (const claims of [{ sub: 'robot', client_id: 'agent' }, { sub: 'robot', azp: 'agent' }]) {
      const actor = await idp.sign({ ...claims, aud: svc.url });
      const res = await exchangeFor(svc, 'agent', user.accessToken, CRM, { actor_token: actor, actor_token_type: JWT_TYPE });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
  });

  it('actor_token: expired, untrusted, for another audience, unknown opaque, or of an unsupported type: invalid_request', async () => {
    const user = await loginUser(svc);
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<[string, string]> = [
      [await idp.sign({ sub: 'agent', aud: svc.url, iat: now - 900, exp: now - 600 }), JWT_TYPE],
      [await foreign.sign({ sub: 'agent', aud: svc.url }), JWT_TYPE],
      [await idp.sign({ sub: 'agent', aud: 'https://elsewhere.example' }), JWT_TYPE],
      ['f'.repeat(43), AT],
      [await idp.sign({ sub: 'agent', aud: svc.url }), 'urn:ietf:params:oauth:token-type:id_token'],
      [await idp.sign({ sub: 'agent', aud: svc.url }), 'urn:ietf:params:oauth:token-type:saml2'],
    ];
    for (const [actor_token, actor_token_type] of cases) {
      const res = await exchangeFor(svc, 'agent', user.accessToken, CRM, { actor_token, actor_token_type });
      assert.equal(res.status, 400, actor_token_type);
      assert.deepEqual(res.body, ACTOR_INVALID);
    }
  });

  it('actor_token: a mistyped JWT (typ unfit for actor_token_type, RFC 8725 §3.11) or a revoked one (by jti): invalid_request', async () => {
    const user = await loginUser(svc);
    const cases: Array<[string, string]> = [
      // An access token (at+jwt) declared as a plain JWT, a plain JWT declared as an access token, another kind of JWT.
      [await idp.sign({ sub: 'agent', aud: svc.url }, { typ: 'at+jwt' }), JWT_TYPE],
      [await idp.sign({ sub: 'agent', aud: svc.url }), AT],
      [await idp.sign({ sub: 'agent', aud: svc.url }, { typ: 'dpop+jwt' }), JWT_TYPE],
    ];
    for (const [actor_token, actor_token_type] of cases) {
      const res = await exchangeFor(svc, 'agent', user.accessToken, CRM, { actor_token, actor_token_type });
      assert.deepEqual([res.status, res.body], [400, ACTOR_INVALID], actor_token_type);
    }
    // The same JWT with a fitting typ passes; once its jti is revoked (admin revoke-token) it is refused.
    const jti = `actor-${Date.now()}`;
    const actor = await idp.sign({ sub: 'agent', aud: svc.url, jti }, { typ: 'JWT' });
    const ok = await exchangeFor(svc, 'agent', user.accessToken, CRM, { actor_token: actor, actor_token_type: JWT_TYPE });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const revoked = await call(svc, 'POST', `/admin/tokens/${jti}/revoke`, { token: await adminToken(svc), json: { reason: 'test' } });
    assert.ok(revoked.status === 200 || revoked.status === 201, JSON.stringify(revoked.body));
    const refused = await exchangeFor(svc, 'agent', user.accessToken, CRM, { actor_token: actor, actor_token_type: JWT_TYPE });
    assert.deepEqual([refused.status, refused.body], [400, ACTOR_INVALID]);
  });

  it('actor_token: a DPoP-bound actor JWT (cnf.jkt) needs the request\'s proof of that key (RFC 9449 §6): else invalid_request', async () => {
    const user = await loginUser(svc);
    const key = await dpopKey();
    const other = await dpopKey();
    const actor = await idp.sign({ sub: 'agent', aud: svc.url, cnf: { jkt: key.jkt } });
    const send = (dpop?: string) =>
      postForm(`${svc.url}/token`, { grant_type: EXCHANGE, subject_token: user.accessToken, subject_token_type: AT, resource: CRM, actor_token: actor, actor_token_type: JWT_TYPE }, {
        authorization: svc.basic('agent'), ...(dpop ? { dpop } : {}),
      });
    const unproven = await send();
    assert.deepEqual([unproven.status, unproven.body], [400, ACTOR_INVALID]);
    const mismatch = await send(await dpopProof(other, `${svc.url}/token`));
    assert.deepEqual([mismatch.status, mismatch.body], [400, ACTOR_INVALID]);
    const held = await send(await dpopProof(key, `${svc.url}/token`));
    assert.equal(held.status, 200, JSON.stringify(held.body));
    assert.equal(held.body.token_type, 'DPoP');
    assert.deepEqual(decodeJwt(held.body.access_token as string).cnf, { jkt: key.jkt });
    // An actor JWT whose cnf we cannot check (another confirmation method) is refused, never read as unbound.
    const x5t = await idp.sign({ sub: 'agent', aud: svc.url, cnf: { 'x5t#S256': 'A'.repeat(43) } });
    const unsupported = await postForm(`${svc.url}/token`, { grant_type: EXCHANGE, subject_token: user.accessToken, subject_token_type: AT, resource: CRM, actor_token: x5t, actor_token_type: JWT_TYPE }, { authorization: svc.basic('agent') });
    assert.deepEqual([unsupported.status, unsupported.body], [400, ACTOR_INVALID]);
  });

  it('actor_token: the user access token itself is not an actor token: invalid_request', async () => {
    const user = await loginUser(svc);
    const res = await exchangeFor(svc, 'agent', user.accessToken, CRM, { actor_token: user.accessToken, actor_token_type: AT });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, ACTOR_INVALID);
  });

  it("binding: a user token issued to another client is refused (subjectClients, which would allow it, needs maxActDepth 2: test/sessions/client_revocation.test.ts)", async () => {
    const user = await loginUser(svc);
    const refused = await exchangeFor(svc, 'agent2', user.accessToken, CRM, { scope: 'crm.lookup_customer' });
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body, { error: 'invalid_request', error_description: 'subject_token is invalid' });
  });

  it('TE-10 the act chain is capped: with maxActDepth 1 the second hop is refused with invalid_request', async () => {
    const user = await loginUser(svc, { username: 'bob' });
    const crm = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'billing.refund_lookup' });
    assert.equal(crm.status, 200, JSON.stringify(crm.body));
    const claims = decodeJwt(crm.body.access_token as string);
    // RFC 8693 §4.1: the current actor only; no exp, nbf or aud inside act.
    assert.deepEqual(claims.act, { sub: 'agent' });
    const hop = await exchangeFor(svc, 'crm-server', crm.body.access_token as string, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(hop.status, 400);
    assert.deepEqual(hop.body, { error: 'invalid_request', error_description: 'the delegation chain is too long' });
  });

  it('client_credentials: a client gets only the admin scopes it registered', async () => {
    const res = await postForm(`${svc.url}/token`, { grant_type: 'client_credentials', scope: 'admin revocation' }, { authorization: svc.basic('admin-cli') });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.scope, 'admin');
    const agent = await postForm(`${svc.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: ccAgent() });
    assert.equal(agent.status, 200, JSON.stringify(agent.body));
    assert.equal('scope' in agent.body, false);
  });

  it('client_credentials: a tool server token only for a client that registered scopes of that tool server', async () => {
    const res = await postForm(`${svc.url}/token`, { grant_type: 'client_credentials', resource: CRM, scope: 'crm.lookup_customer crm.export_customers' }, { authorization: svc.basic('admin-cli') });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.scope, 'crm.lookup_customer');
    for (const resource of [CRM, BILLING]) {
      const none = await postForm(`${svc.url}/token`, { grant_type: 'client_credentials', resource }, { authorization: resource === CRM ? ccAgent() : svc.basic('admin-cli') });
      assert.equal(none.status, 400, resource);
      assert.deepEqual(none.body, { error: 'invalid_target', error_description: 'resource indicator is missing, or unknown' });
    }
  });
});

async function dpopKey(): Promise<{ privateKey: CryptoKey; jwk: JWK; jkt: string }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

/** A fresh RFC 9449 §4.2 proof for POST `url`. */
function dpopProof(key: { privateKey: CryptoKey; jwk: JWK }, url: string): Promise<string> {
  return new SignJWT({ htm: 'POST', htu: url, iat: Math.floor(Date.now() / 1000), jti: randomBytes(12).toString('base64url') })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
    .sign(key.privateKey);
}
