// RFC 8693 §2.1/§2.2 and RFC 6749 §3.2/§5: the shape of exchange requests and responses over HTTP.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { exchange, exchangeFor, loginUser, postForm } from '../../helpers/http.js';
import { AT, CRM, EXCHANGE, startService, type TestService } from '../../helpers/service.js';
import type { ExchangeDecisionEvent } from '../../../src/audit/events.js';

const invalidRequest = (error_description: string) => ({ error: 'invalid_request', error_description });

describe('token exchange request and response', () => {
  let svc: TestService;
  let userToken: string;
  const events: ExchangeDecisionEvent[] = [];

  before(async () => {
    svc = await startService();
    svc.service.events.on((e) => {
      if (e.type === 'exchange') events.push(e);
    });
    userToken = (await loginUser(svc)).accessToken;
  });
  after(() => svc.stop());

  it('TE-01 an opaque user token exchanged by its agent for CRM: 200, RFC 8693 §2.2.1 response, no refresh token', async () => {
    const res = await exchangeFor(svc, 'agent', userToken, CRM);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    // RFC 6749 §5.1: both cache headers on every response carrying a token.
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('pragma'), 'no-cache');
    assert.deepEqual(Object.keys(res.body).sort(), ['access_token', 'expires_in', 'issued_token_type', 'scope', 'token_type']);
    assert.equal(res.body.issued_token_type, AT);
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(res.body.expires_in, 300);
    assert.equal(res.body.scope, 'crm.lookup_customer');
    assert.equal('refresh_token' in res.body, false);
    const claims = decodeJwt(res.body.access_token as string);
    assert.equal(claims.aud, CRM);
    assert.equal(claims.sub, 'user-alice');
  });

  it('TE-01 the exchange has no effect on the subject token: it can be exchanged again', async () => {
    const again = await exchangeFor(svc, 'agent', userToken, CRM);
    assert.equal(again.status, 200);
  });

  it('TE-02 no grant_type: invalid_request', async () => {
    const res = await postForm(`${svc.url}/token`, { subject_token: userToken, subject_token_type: AT, resource: CRM }, { authorization: svc.basic('agent') });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, invalidRequest("missing required parameter 'grant_type'"));
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  it('TE-02 an unknown grant_type: unsupported_grant_type', async () => {
    const res = await postForm(`${svc.url}/token`, { grant_type: 'urn:example:grant', subject_token: userToken }, { authorization: svc.basic('agent') });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'unsupported_grant_type', error_description: 'unsupported grant_type requested' });
  });

  it('TE-02 a client whose configuration lacks token exchange: unauthorized_client', async () => {
    const res = await exchangeFor(svc, 'no-exchange', userToken, CRM);
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'unauthorized_client', error_description: 'the client is not allowed to use token exchange' });
  });

  it('TE-02 a public client (token_endpoint_auth_method none): unauthorized_client', async () => {
    const res = await postForm(`${svc.url}/token`, { grant_type: EXCHANGE, client_id: 'public-agent', subject_token: userToken, subject_token_type: AT, resource: CRM });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'unauthorized_client', error_description: 'the client is not allowed to use token exchange' });
  });

  it('TE-03 subject_token missing or empty: invalid_request', async () => {
    for (const subject_token of [undefined, '']) {
      const res = await exchange(svc, 'agent', { subject_token, subject_token_type: AT, resource: CRM });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, invalidRequest('subject_token is missing'));
    }
  });

  it('TE-03 subject_token_type missing or empty: invalid_request', async () => {
    for (const subject_token_type of [undefined, '']) {
      const res = await exchange(svc, 'agent', { subject_token: userToken, subject_token_type, resource: CRM });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, invalidRequest('subject_token_type is missing'));
    }
  });

  it('TE-04 actor_token without actor_token_type, and actor_token_type without actor_token: invalid_request', async () => {
    for (const extra of [{ actor_token: 'some-actor-token' }, { actor_token_type: AT }, { actor_token: 'x', actor_token_type: '' }]) {
      const res = await exchangeFor(svc, 'agent', userToken, CRM, extra);
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, invalidRequest('actor_token and actor_token_type must be sent together'));
    }
  });

  it('TE-06 an unsupported subject_token_type (refresh_token, saml2, garbage): invalid_request', async () => {
    for (const type of ['urn:ietf:params:oauth:token-type:refresh_token', 'urn:ietf:params:oauth:token-type:saml2', 'garbage']) {
      const res = await exchangeFor(svc, 'agent', userToken, CRM, { subject_token_type: type });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, invalidRequest('unsupported subject_token_type'));
    }
  });

  it('TE-06 requested_token_type other than access_token: invalid_request; access_token itself is accepted', async () => {
    for (const type of ['urn:ietf:params:oauth:token-type:refresh_token', 'urn:ietf:params:oauth:token-type:id_token', 'urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:txn_token']) {
      const res = await exchangeFor(svc, 'agent', userToken, CRM, { requested_token_type: type });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, invalidRequest('unsupported requested_token_type'));
    }
    const ok = await exchangeFor(svc, 'agent', userToken, CRM, { requested_token_type: AT });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.issued_token_type, AT);
  });

  it('OA-01 GET /token is not an exchange: 405 with Allow: POST, and nothing is issued', async () => {
    const url = new URL(`${svc.url}/token`);
    url.search = new URLSearchParams({ grant_type: EXCHANGE, subject_token: userToken, subject_token_type: AT, resource: CRM }).toString();
    const res = await fetch(url, { headers: { authorization: svc.basic('agent'), accept: 'application/json' } });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    assert.deepEqual(await res.json(), { error: 'invalid_request', error_description: 'only POST is allowed' });
  });

  it('OA-02 subject_token repeated: invalid_request', async () => {
    const res = await exchange(svc, 'agent', { subject_token: [userToken, userToken], subject_token_type: AT, resource: CRM });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, invalidRequest("'subject_token' parameter must not be provided twice"));
  });

  it('OA-02 every other single-valued parameter repeated: invalid_request', async () => {
    for (const [name, value] of [['subject_token_type', AT], ['scope', 'crm.lookup_customer'], ['requested_token_type', AT], ['grant_type', EXCHANGE]] as const) {
      const res = await exchangeFor(svc, 'agent', userToken, CRM, { [name]: [value, value] });
      assert.equal(res.status, 400, name);
      assert.deepEqual(res.body, invalidRequest(`'${name}' parameter must not be provided twice`));
    }
  });

  it('every exchange oidc-provider refuses before the grant runs is audited: one deny event, a fixed reason, the client, no token', async () => {
    const cases: Array<[Record<string, string | string[]>, string, string]> = [
      // RFC 6749 §3.2: a parameter repeated.
      [{ scope: ['crm.lookup_customer', 'crm.export_customers'] }, 'invalid_request', 'repeated_parameter'],
      [{ subject_token: [userToken, userToken] }, 'invalid_request', 'repeated_parameter'],
      [{ authorization_details: ['[]', '[]'] }, 'invalid_request', 'repeated_parameter'],
      [{ grant_type: [EXCHANGE, EXCHANGE] }, 'invalid_request', 'repeated_parameter'],
      // RFC 6749 §3.3: scope syntax.
      [{ scope: 'crm.lookup_customer\tcrm.export_customers' }, 'invalid_scope', 'invalid_scope'],
      [{ scope: ' crm.lookup_customer' }, 'invalid_scope', 'invalid_scope'],
    ];
    for (const [extra, error, reason] of cases) {
      const before = events.length;
      const res = await exchangeFor(svc, 'agent', userToken, CRM, extra);
      assert.equal(res.status, 400, JSON.stringify(extra));
      assert.equal(res.body.error, error);
      const added = events.slice(before);
      assert.equal(added.length, 1, JSON.stringify(extra));
      const [event] = added;
      assert.deepEqual([event!.decision, event!.error, event!.reasons, event!.clientId, event!.act], ['deny', error, [reason], 'agent', { sub: 'agent' }]);
      assert.ok(event!.requestId);
      assert.ok(!JSON.stringify(event).includes(userToken));
    }
    // Stored in the durable audit stream like every exchange decision.
    await svc.service.flushAudit();
    const { items } = await svc.service.stores.audit.query({ type: 'exchange', decision: 'deny', clientId: 'agent' }, { limit: 50 });
    assert.ok(items.some((e) => (e.reasons as string[])[0] === 'repeated_parameter'));
    // Another grant's refusal is not an exchange decision; the grant's own refusals are audited once.
    const before = events.length;
    await postForm(`${svc.url}/token`, { grant_type: 'authorization_code', code: ['a', 'b'] }, { authorization: svc.basic('agent') });
    assert.equal(events.length, before);
    await exchangeFor(svc, 'agent', userToken, 'http://nowhere.test/mcp');
    assert.deepEqual(events.slice(before).map((e) => e.reasons), [['unknown_resource']]);
  });

  it('OA-06 an unknown parameter is ignored: 200', async () => {
    const res = await exchangeFor(svc, 'agent', userToken, CRM, { unknown_parameter: 'whatever', another: ['a', 'b'] });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  it('OA-06 errors are JSON with no-store', async () => {
    const res = await exchangeFor(svc, 'agent', userToken, 'mcp.example.com');
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });
});
