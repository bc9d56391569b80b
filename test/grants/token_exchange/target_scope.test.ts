// RFC 8707 resource indicators and RFC 8693 `audience`: exactly one registered target; scopes only ever narrowed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { exchange, exchangeFor, loginUser } from '../../helpers/http.js';
import { AT, BILLING, CRM, startService, type TestService } from '../../helpers/service.js';

const target = (error_description: string) => ({ error: 'invalid_target', error_description });
const SCOPE_REFUSED = { error: 'invalid_scope', error_description: 'the requested scope is not allowed' };

describe('target and scope of the exchange', () => {
  let svc: TestService;
  let alice: string;

  before(async () => {
    svc = await startService();
    alice = (await loginUser(svc, { username: 'alice' })).accessToken;
  });
  after(() => svc.stop());

  const withTarget = (fields: Record<string, string | string[] | undefined>) => exchange(svc, 'agent', { subject_token: alice, subject_token_type: AT, ...fields });

  it('RI-01 TE-07 a resource that is not an absolute URI: invalid_target', async () => {
    for (const resource of ['mcp.example.com', '/crm/mcp', 'tools.test/crm/mcp']) {
      const res = await withTarget({ resource });
      assert.equal(res.status, 400, resource);
      assert.deepEqual(res.body, target('resource must be an absolute URI without a fragment'));
    }
  });

  it('RI-02 TE-07 a resource with a fragment (even an empty one): invalid_target', async () => {
    for (const resource of [`${CRM}#frag`, `${CRM}#`]) {
      const res = await withTarget({ resource });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, target('resource must be an absolute URI without a fragment'));
    }
  });

  it('RI-03 TE-07 an unregistered resource (other host, other path, trailing slash, query): invalid_target', async () => {
    for (const resource of ['https://mcp.example.com/mcp', 'http://tools.test/crm', `${CRM}/`, `${CRM}?tenant=1`, 'https://tools.test/crm/mcp']) {
      const res = await withTarget({ resource });
      assert.equal(res.status, 400, resource);
      assert.deepEqual(res.body, target('the resource is not a registered tool server'));
    }
  });

  it('RI-04 TE-07 two resources, even the same one twice: invalid_target', async () => {
    for (const resource of [[CRM, BILLING], [CRM, CRM]]) {
      const res = await withTarget({ resource });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, target('exactly one resource or audience is allowed'));
    }
  });

  it('RI-04 TE-07 resource plus audience, or two audiences: invalid_target', async () => {
    for (const fields of [{ resource: CRM, audience: 'crm' }, { audience: ['crm', 'billing'] }]) {
      const res = await withTarget(fields);
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, target('exactly one resource or audience is allowed'));
    }
  });

  it('RI-05 TE-07 neither resource nor audience: invalid_target', async () => {
    const res = await withTarget({});
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, target('a resource or audience is required'));
  });

  it('TE-07 an unknown audience: invalid_target', async () => {
    for (const audience of ['hr', 'CRM', 'https://mcp.example.com/mcp']) {
      const res = await withTarget({ audience });
      assert.equal(res.status, 400, audience);
      assert.deepEqual(res.body, target('the audience is not a registered tool server'));
    }
  });

  it('TE-07 the audience alias `crm` names the CRM tool server', async () => {
    const res = await withTarget({ audience: 'crm' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(decodeJwt(res.body.access_token as string).aud, CRM);
  });

  it('RI-06 an uppercase scheme and host, and an explicit default port, are normalized', async () => {
    for (const resource of ['http://TOOLS.test/crm/mcp', 'HTTP://tools.TEST/crm/mcp', 'http://tools.test:80/crm/mcp']) {
      const res = await withTarget({ resource });
      assert.equal(res.status, 200, `${resource}: ${JSON.stringify(res.body)}`);
      assert.equal(decodeJwt(res.body.access_token as string).aud, CRM);
    }
  });

  it('TE-07 a registered tool server the agent has no rule for: invalid_target', async () => {
    const agent2User = (await loginUser(svc, { clientId: 'agent2' })).accessToken;
    const res = await exchangeFor(svc, 'agent2', agent2User, BILLING);
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, target('the client may not obtain tokens for this tool server'));
  });

  it('TE-08 a scope beyond the user grant: invalid_scope', async () => {
    const narrow = (await loginUser(svc, { scope: 'openid crm.lookup_customer' })).accessToken;
    const res = await exchangeFor(svc, 'agent', narrow, CRM, { scope: 'crm.lookup_customer crm.export_customers' });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, SCOPE_REFUSED);
  });

  it('TE-08 a scope beyond the agent policy (agent2 may only look up): invalid_scope', async () => {
    const agent2User = (await loginUser(svc, { clientId: 'agent2' })).accessToken;
    const res = await exchangeFor(svc, 'agent2', agent2User, CRM, { scope: 'crm.export_customers' });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, SCOPE_REFUSED);
    assert.equal((await exchangeFor(svc, 'agent2', agent2User, CRM, { scope: 'crm.lookup_customer' })).status, 200);
  });

  it('TE-08 a scope the tool server does not accept, or nobody defined: invalid_scope', async () => {
    for (const scope of ['billing.issue_refund', 'crm.lookup_customer billing.issue_refund', 'openid', 'unknown.tool']) {
      const res = await exchangeFor(svc, 'agent', alice, CRM, { scope });
      assert.equal(res.status, 400, scope);
      assert.deepEqual(res.body, SCOPE_REFUSED);
    }
  });

  it('TE-08 a malformed scope value: invalid_scope', async () => {
    for (const scope of [' ', 'crm.lookup_customer  crm.export_customers', 'a"b']) {
      const res = await exchangeFor(svc, 'agent', alice, CRM, { scope });
      assert.equal(res.status, 400, JSON.stringify(scope));
      assert.deepEqual(res.body, { error: 'invalid_scope', error_description: 'scope contains invalid characters' });
    }
  });

  it('TE-08 scopes are case-sensitive', async () => {
    const res = await exchangeFor(svc, 'agent', alice, CRM, { scope: 'CRM.lookup_customer' });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, SCOPE_REFUSED);
  });

  it('TE-08 no scope requested: the default set is granted and `scope` is returned', async () => {
    const res = await exchangeFor(svc, 'agent', alice, CRM);
    assert.equal(res.status, 200);
    assert.equal(res.body.scope, 'crm.lookup_customer');
    assert.equal(decodeJwt(res.body.access_token as string).scope, 'crm.lookup_customer');
  });

  it('TE-08 a repeated scope is granted once, and the differing `scope` is echoed', async () => {
    const res = await exchangeFor(svc, 'agent', alice, CRM, { scope: 'crm.export_customers crm.lookup_customer crm.export_customers' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.scope, 'crm.export_customers crm.lookup_customer');
  });

  it('TE-08 the requested scopes exactly: granted as asked', async () => {
    const res = await exchangeFor(svc, 'agent', alice, CRM, { scope: 'crm.export_customers' });
    assert.equal(res.status, 200);
    assert.equal(res.body.scope, 'crm.export_customers');
  });
});
