// Authorization code (+ refresh) with a tool server `resource` yields the exchange's delegation token (SPEC §13, issue 12 items 3, 4).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt, decodeProtectedHeader, jwtVerify, createLocalJWKSet } from 'jose';
import { postForm } from '../../helpers/http.js';
import { BILLING, CRM, REDIRECT, startService, type TestService } from '../../helpers/service.js';
import { adminToken, call, introspectDelegation } from '../../admin/helpers.js';
import type { DecisionEvent, ExchangeDecisionEvent } from '../../../src/audit/events.js';
import { authorize, codeFlow, codeFlowConfig, MCP, MCP_NO_POLICY, refresh, startCodeFlowService } from './helpers.js';

describe('authorization code with a tool server resource', () => {
  let svc: TestService & { keysDir: string };
  const events: DecisionEvent[] = [];
  before(async () => {
    svc = await startCodeFlowService();
    svc.service.events.on((e) => events.push(e));
  });
  after(() => svc.stop());

  it('issues the delegation token the exchange issues: at+jwt, our key, aud, sub, sid, act, client_id, ancestors; recorded and audited', async () => {
    const res = await codeFlow(svc, { resource: CRM, scope: 'openid offline_access crm.lookup_customer crm.export_customers' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(Object.keys(res.body).sort(), ['access_token', 'expires_in', 'id_token', 'refresh_token', 'scope', 'token_type']);
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(res.body.expires_in, 300);
    // crm.export_customers is a CRM tool, but not in this client's policy: dropped, and `scope` says so (RFC 8707 §2.2).
    assert.equal(res.body.scope, 'crm.lookup_customer');
    const token = res.body.access_token as string;
    const header = decodeProtectedHeader(token);
    assert.deepEqual(header, { alg: 'ES256', typ: 'at+jwt', kid: svc.service.keys.signing.kid });
    const { payload } = await jwtVerify(token, createLocalJWKSet(svc.service.keys.publicJwks as never), { issuer: svc.url, audience: CRM, typ: 'at+jwt' });
    assert.deepEqual(Object.keys(payload).sort(), ['act', 'ancestors', 'aud', 'auth_time', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sid', 'sub']);
    assert.equal(payload.sub, 'user-alice');
    assert.equal(payload.aud, CRM);
    assert.equal(payload.client_id, MCP);
    assert.deepEqual(payload.act, { sub: MCP });
    assert.equal(payload.scope, 'crm.lookup_customer');
    assert.equal(payload.exp! - payload.iat!, 300);
    assert.match((payload.ancestors as string[])[0]!, /^[\w-]{43}$/);
    assert.equal((payload.ancestors as string[]).length, 1);
    // sid is the provider session this login made.
    const session = await svc.service.provider.Session.findByUid(payload.sid as string);
    assert.equal(session?.accountId, 'user-alice');
    assert.ok(payload.exp! <= session!.exp!);

    await svc.service.flushAudit();
    const event = events.find((e): e is ExchangeDecisionEvent => e.type === 'exchange' && e.jti === payload.jti);
    assert.ok(event);
    assert.deepEqual(
      { type: event.type, grantType: event.grantType, decision: event.decision, clientId: event.clientId, sub: event.sub, sid: event.sid, act: event.act, toolServer: event.toolServer, grantedScopes: event.grantedScopes },
      { type: 'exchange', grantType: 'authorization_code', decision: 'allow', clientId: MCP, sub: 'user-alice', sid: payload.sid, act: { sub: MCP }, toolServer: CRM, grantedScopes: ['crm.lookup_customer'] },
    );
    const admin = await adminToken(svc);
    const record = await call(svc, 'GET', `/admin/sessions/${encodeURIComponent(payload.sid as string)}`, { token: admin });
    assert.equal(record.status, 200);
    assert.deepEqual((record.body.liveJtis as Array<{ jti: string }>).map((j) => j.jti), [payload.jti]);
    const audit = await call(svc, 'GET', `/admin/audit?sid=${encodeURIComponent(payload.sid as string)}`, { token: admin });
    assert.ok(JSON.stringify(audit.body).includes(payload.jti!));
    // The tool server introspects it like any delegation token.
    const intro = await introspectDelegation(svc, token);
    assert.equal(intro.body.active, true);
  });

  it('the resource at /token may be left out (the granted one is used); the token is the same kind', async () => {
    const res = await codeFlow(svc, { resource: CRM, tokenResource: null });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(decodeJwt(res.body.access_token as string).aud, CRM);
  });

  it('an unknown resource at /auth → invalid_target in the redirect, with iss (RFC 9207)', async () => {
    const { redirect } = await authorize(svc, { resource: 'http://tools.test/unknown/mcp' });
    assert.equal(redirect.origin + redirect.pathname, REDIRECT);
    assert.equal(redirect.searchParams.get('error'), 'invalid_target');
    assert.equal(redirect.searchParams.get('iss'), svc.url);
    assert.equal(redirect.searchParams.get('code'), null);
  });

  it('a client with no rule for the tool server → invalid_target (deny by default)', async () => {
    const { redirect } = await authorize(svc, { clientId: MCP_NO_POLICY, resource: CRM });
    assert.equal(redirect.searchParams.get('error'), 'invalid_target');
    assert.equal(redirect.searchParams.get('error_description'), 'the client may not obtain tokens for this tool server');
  });

  it("a rule limited to groups: bob (finance) gets billing, alice (support) gets 400 invalid_grant", async () => {
    const bob = await codeFlow(svc, { resource: BILLING, username: 'bob', scope: 'openid offline_access billing.refund_lookup' });
    assert.equal(bob.status, 200, JSON.stringify(bob.body));
    assert.equal(decodeJwt(bob.body.access_token as string).scope, 'billing.refund_lookup');
    assert.deepEqual(decodeJwt(bob.body.access_token as string).groups, ['finance']);
    const alice = await codeFlow(svc, { resource: BILLING, username: 'alice', scope: 'openid offline_access billing.refund_lookup' });
    assert.equal(alice.status, 400);
    assert.equal(alice.headers.get('cache-control'), 'no-store');
    assert.deepEqual(alice.body, { error: 'invalid_grant', error_description: 'the user may not be delegated to this client' });
  });

  it('the token endpoint spelt /TOKEN or /token/ (oidc-provider routes both there) gets the same delegation step', async () => {
    for (const tokenPath of ['/TOKEN', '/token/', '/Token/']) {
      const alice = await codeFlow(svc, { resource: BILLING, username: 'alice', scope: 'openid offline_access billing.refund_lookup', tokenPath });
      assert.equal(alice.status, 400, tokenPath);
      assert.deepEqual(alice.body, { error: 'invalid_grant', error_description: 'the user may not be delegated to this client' }, tokenPath);
      const bob = await codeFlow(svc, { resource: CRM, username: 'bob', scope: 'openid offline_access crm.lookup_customer', tokenPath });
      assert.equal(bob.status, 200, tokenPath);
      assert.deepEqual(Object.keys(bob.body).sort(), ['access_token', 'expires_in', 'id_token', 'refresh_token', 'scope', 'token_type'], tokenPath);
      assert.equal(decodeJwt(bob.body.access_token as string).aud, CRM, tokenPath);
      const refreshed = await postForm(`${svc.url}${tokenPath}`, { grant_type: 'refresh_token', client_id: MCP, refresh_token: bob.body.refresh_token as string, resource: CRM });
      assert.equal(refreshed.status, 200, tokenPath);
      assert.equal(decodeJwt(refreshed.body.access_token as string).aud, CRM, tokenPath);
    }
  });

  it('no tool scope requested: the rule’s default set ∩ the consent, never everything', async () => {
    const res = await codeFlow(svc, { resource: CRM, scope: 'openid' });
    // Nothing consented for the tool server: no scope can be granted.
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'invalid_scope', error_description: 'the requested scope is not allowed' });
  });
});

describe('refresh tokens of the authorization code flow', () => {
  let svc: TestService & { keysDir: string };
  before(async () => {
    svc = await startCodeFlowService({
      demoLogin: {
        enabled: true,
        users: ['alice', 'bob', 'carol', 'dave'].map((u) => ({ sub: `user-${u}`, username: u, name: u, groups: ['support'] })),
      },
    });
  });
  after(() => svc.stop());

  it('rotates on every use; each refresh yields a fresh delegation token of the same session', async () => {
    const first = await codeFlow(svc, { resource: CRM });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const r1 = first.body.refresh_token as string;
    const next = await refresh(svc, r1);
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.notEqual(next.body.refresh_token, r1);
    const a = decodeJwt(first.body.access_token as string);
    const b = decodeJwt(next.body.access_token as string);
    assert.notEqual(b.jti, a.jti);
    assert.deepEqual([b.sub, b.sid, b.aud, b.scope, b.act, b.ancestors], [a.sub, a.sid, a.aud, a.scope, a.act, a.ancestors]);
    assert.equal(next.body.scope, 'crm.lookup_customer');
  });

  it('revoke-token refuses a refresh token or an authorization code as a jti: never published, and the refresh still works', async () => {
    const first = await codeFlow(svc, { resource: CRM, username: 'carol' });
    const refreshToken = first.body.refresh_token as string;
    const { redirect } = await authorize(svc, { resource: CRM, username: 'dave' });
    const code = redirect.searchParams.get('code')!;
    const admin = await adminToken(svc);
    for (const value of [refreshToken, code]) {
      const res = await call(svc, 'POST', `/admin/tokens/${value}/revoke`, { token: admin, json: { reason: 'test' } });
      assert.deepEqual([res.status, res.body], [400, { error: 'invalid_request', error_description: 'the value is an opaque token, not a token id; revoke it at the revocation endpoint' }]);
    }
    const snapshot = await svc.service.stores.revocations.snapshot();
    assert.equal(snapshot.revocations.some((r) => r.value === refreshToken || r.value === code), false);
    assert.equal((await refresh(svc, refreshToken)).status, 200);
  });

  it('reusing a rotated refresh token revokes the grant: the new refresh token and every delegation token derived die', async () => {
    const first = await codeFlow(svc, { resource: CRM, username: 'bob' });
    const r1 = first.body.refresh_token as string;
    const second = await refresh(svc, r1);
    assert.equal(second.status, 200);
    assert.equal((await introspectDelegation(svc, second.body.access_token as string)).body.active, true);
    const reuse = await refresh(svc, r1);
    assert.equal(reuse.status, 400);
    assert.equal(reuse.body.error, 'invalid_grant');
    const after = await refresh(svc, second.body.refresh_token as string);
    assert.equal(after.status, 400);
    assert.equal(after.body.error, 'invalid_grant');
    for (const t of [first.body.access_token, second.body.access_token]) {
      assert.deepEqual((await introspectDelegation(svc, t as string)).body, { active: false });
    }
  });

  it('RFC 7009 revocation of the refresh token kills the derived delegation tokens', async () => {
    const first = await codeFlow(svc, { resource: CRM, username: 'carol' });
    const rev = await postForm(`${svc.url}/token/revocation`, { token: first.body.refresh_token as string, client_id: MCP });
    assert.equal(rev.status, 200);
    assert.deepEqual((await introspectDelegation(svc, first.body.access_token as string)).body, { active: false });
    assert.equal((await refresh(svc, first.body.refresh_token as string)).body.error, 'invalid_grant');
  });

  for (const kind of ['sid', 'sub', 'client'] as const) {
    it(`a refresh after a ${kind} revocation → 400 invalid_grant, and the grant is gone`, async () => {
      const username = { sid: 'alice', sub: 'dave', client: 'alice' }[kind];
      const first = await codeFlow(svc, { resource: CRM, username });
      const claims = decodeJwt(first.body.access_token as string);
      const admin = await adminToken(svc);
      const path = { sid: `/admin/sessions/${encodeURIComponent(claims.sid as string)}/revoke`, sub: `/admin/subjects/${claims.sub}/revoke`, client: `/admin/clients/${MCP}/revoke` }[kind];
      const revoked = await call(svc, 'POST', path, { token: admin, json: { reason: 'test' } });
      assert.ok(revoked.status === 200 || revoked.status === 201, JSON.stringify(revoked.body));
      const res = await refresh(svc, first.body.refresh_token as string);
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.body.error, 'invalid_grant');
      assert.deepEqual((await introspectDelegation(svc, first.body.access_token as string)).body, { active: false });
    });
  }
});

describe('argument limits (RFC 9396) in the authorization code flow', () => {
  // SPEC §11 / issue 10, deny by default: a tool whose rule has argument limits is never granted without them, whichever
  // grant issues the token. The MCP client's billing rule limits refund lookups to the user's own customer id.
  const LOOKUP = 'billing.refund_lookup';
  const limits = { [LOOKUP]: { customer_id: { const: '${subject.customer_id}' }, limit: { maximum: 10 } } };
  let svc: TestService & { keysDir: string };
  const events: DecisionEvent[] = [];
  before(async () => {
    svc = await startService({
      extra: (port) => {
        const config = codeFlowConfig(port, {
          demoLogin: {
            enabled: true,
            users: [
              { sub: 'user-bob', username: 'bob', name: 'Bob', groups: ['finance'], claims: { customer_id: 'c-42' } },
              { sub: 'user-dave', username: 'dave', name: 'Dave', groups: ['finance'] },
            ],
          },
        });
        return { ...config, agents: config.agents!.map((a) => (a.clientId === MCP ? { ...a, toolServers: a.toolServers!.map((r) => (r.resource === BILLING ? { ...r, arguments: limits } : r)) } : a)) };
      },
    });
    svc.service.events.on((e) => events.push(e));
  });
  after(() => svc.stop());

  const expected = [{ type: 'mcp_tool', locations: [BILLING], actions: [LOOKUP], arguments: { customer_id: { const: 'c-42' }, limit: { maximum: 10 } } }];

  it('the token, the response and a refresh carry the rule\'s limits, its references resolved for the user', async () => {
    const res = await codeFlow(svc, { resource: BILLING, username: 'bob', scope: `openid offline_access ${LOOKUP}` });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    // RFC 9396 §7: the token response carries the granted authorization details.
    assert.deepEqual(res.body.authorization_details, expected);
    const claims = decodeJwt(res.body.access_token as string);
    assert.equal(claims.scope, LOOKUP);
    assert.deepEqual(claims.authorization_details, expected);
    const again = await refresh(svc, res.body.refresh_token as string, MCP, BILLING);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(again.body.authorization_details, expected);
    assert.deepEqual(decodeJwt(again.body.access_token as string).authorization_details, expected);
    // The tool server sees the limits at delegation introspection (RFC 9396 §9.2).
    assert.deepEqual((await introspectDelegation(svc, again.body.access_token as string, 'billing-server')).body.authorization_details, expected);
    // The CRM rule has no limits: its token carries none.
    const crm = await codeFlow(svc, { resource: CRM, username: 'bob' });
    assert.equal(crm.status, 200, JSON.stringify(crm.body));
    assert.equal(crm.body.authorization_details, undefined);
    assert.equal(decodeJwt(crm.body.access_token as string).authorization_details, undefined);
  });

  it('a user for whom a reference cannot be resolved gets 400 invalid_grant, audited with the reason', async () => {
    const res = await codeFlow(svc, { resource: BILLING, username: 'dave', scope: `openid offline_access ${LOOKUP}` });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'invalid_grant', error_description: 'the user may not be delegated to this client' });
    await svc.service.flushAudit();
    const event = events.findLast((e): e is ExchangeDecisionEvent => e.type === 'exchange' && e.sub === 'user-dave');
    assert.deepEqual([event?.decision, event?.error, event?.reasons], ['deny', 'invalid_grant', ['authorization_details:unresolved_reference:customer_id']]);
  });
});

describe('discovery', () => {
  let svc: TestService & { keysDir: string };
  before(async () => {
    svc = await startCodeFlowService();
  });
  after(() => svc.stop());

  it('scopes_supported lists offline_access and every tool scope', async () => {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const doc = (await (await fetch(`${svc.url}${path}`)).json()) as { scopes_supported: string[] };
      assert.deepEqual(doc.scopes_supported, ['openid', 'profile', 'groups', 'offline_access', 'crm.lookup_customer', 'crm.export_customers', 'billing.refund_lookup', 'billing.issue_refund']);
    }
  });
});
