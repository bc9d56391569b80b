// RFC 7662 introspection of opaque tokens at oidc-provider's endpoint: a client sees only the tokens issued to it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exchangeFor, loginUser, postForm } from '../helpers/http.js';
import { CRM, startService, type TestService } from '../helpers/service.js';

describe('introspection of opaque tokens (SPEC §6, RFC 7662 §2.2)', () => {
  let svc: TestService;
  let agentToken: string;
  let agent2Token: string;
  let adminToken: string;
  const introspect = (token: string, asClient: string) => postForm(`${svc.url}/token/introspection`, { token }, { authorization: svc.basic(asClient) });
  const revoke = (token: string, asClient: string) => postForm(`${svc.url}/token/revocation`, { token }, { authorization: svc.basic(asClient) });

  before(async () => {
    svc = await startService();
    agentToken = (await loginUser(svc, { clientId: 'agent', username: 'alice' })).accessToken;
    agent2Token = (await loginUser(svc, { clientId: 'agent2', username: 'bob', scope: 'openid crm.lookup_customer' })).accessToken;
    const cc = await postForm(`${svc.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, { authorization: svc.basic('admin-cli') });
    assert.equal(cc.status, 200, JSON.stringify(cc.body));
    adminToken = cc.body.access_token as string;
  });
  after(() => svc.stop());

  it('the client a token was issued to sees it active', async () => {
    const own = await introspect(agentToken, 'agent');
    assert.equal(own.status, 200);
    assert.equal(own.body.active, true);
    assert.equal(own.body.client_id, 'agent');
    assert.equal(own.body.sub, 'user-alice');
    const admin = await introspect(adminToken, 'admin-cli');
    assert.equal(admin.body.active, true);
    assert.equal(admin.body.client_id, 'admin-cli');
    assert.equal(admin.body.scope, 'admin');
  });

  it("another client's token, or the admin's, is exactly {active:false}", async () => {
    for (const [token, caller] of [
      [agentToken, 'agent2'],
      [agent2Token, 'agent'],
      [agentToken, 'crm-server'],
      [agentToken, 'admin-cli'],
      [adminToken, 'agent'],
      [adminToken, 'crm-server'],
    ] as const) {
      const res = await introspect(token, caller);
      assert.equal(res.status, 200, caller);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.deepEqual(res.body, { active: false }, `${caller} must not see the token`);
    }
  });

  it("RFC 7009 §2.1: revoking another client's token is refused and leaves it active", async () => {
    const res = await revoke(agentToken, 'agent2');
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'client is not authorized to revoke the presented token' });
    assert.equal((await introspect(agentToken, 'agent')).body.active, true);
  });

  it('tool servers introspecting delegation tokens (/token/introspection/delegation) are unaffected', async () => {
    const derived = await exchangeFor(svc, 'agent', agentToken, CRM, { scope: 'crm.lookup_customer' });
    assert.equal(derived.status, 200, JSON.stringify(derived.body));
    const token = derived.body.access_token as string;
    const res = await postForm(`${svc.url}/token/introspection/delegation`, { token }, { authorization: svc.basic('crm-server') });
    assert.equal(res.status, 200);
    assert.equal(res.body.active, true);
    assert.equal(res.body.aud, CRM);
    assert.equal(res.body.client_id, 'agent');
    // The obtaining client sees it too; an unrelated client does not.
    assert.equal((await postForm(`${svc.url}/token/introspection/delegation`, { token }, { authorization: svc.basic('agent') })).body.active, true);
    assert.deepEqual((await postForm(`${svc.url}/token/introspection/delegation`, { token }, { authorization: svc.basic('agent2') })).body, { active: false });
  });
});
