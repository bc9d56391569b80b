// Admin API authentication and authorization (RFC 6750 bearer tokens), routing of the /admin namespace, audit events.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DecisionEvent } from '../../src/audit/events.js';
import { exchangeFor, loginUser, postForm } from '../helpers/http.js';
import { CRM, type TestService } from '../helpers/service.js';
import { READER, adminToken, basicFor, call, startAdminService } from './helpers.js';

describe('admin API: authentication and authorization', () => {
  let svc: TestService;
  let token: string;
  const events: DecisionEvent[] = [];
  const adminEvents = () => events.filter((e) => e.type === 'admin');

  before(async () => {
    svc = await startAdminService();
    svc.service.events.on((e) => events.push(e));
    token = await adminToken(svc);
  });
  after(() => svc.stop());

  it('no credentials: 401, a bare Bearer challenge without an error code (RFC 6750 §3.1), JSON body', async () => {
    const res = await call(svc, 'GET', '/admin/sessions');
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${svc.url}/admin"`);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(res.body, { error: 'invalid_token', error_description: 'a bearer access token is required' });
  });

  it('another scheme (Basic) counts as no bearer credentials', async () => {
    const res = await call(svc, 'GET', '/admin/sessions', { headers: { authorization: basicFor(svc, 'admin-cli') } });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${svc.url}/admin"`);
  });

  it('garbage, malformed and over-long tokens: 401 invalid_token with the error in the challenge', async () => {
    for (const authorization of ['Bearer garbage-token-value', 'Bearer', 'Bearer ', 'Bearer a b', 'Bearer caf\u00e9', `Bearer ${'a'.repeat(600)}`, 'bearer "quoted"']) {
      const res = await call(svc, 'GET', '/admin/sessions', { headers: { authorization } });
      assert.equal(res.status, 401, authorization);
      assert.deepEqual(res.body, { error: 'invalid_token', error_description: 'the access token is invalid or expired' }, authorization);
      assert.equal(
        res.headers.get('www-authenticate'),
        `Bearer realm="${svc.url}/admin", error="invalid_token", error_description="the access token is invalid or expired"`,
      );
    }
  });

  it("tokens of this service that are not admin tokens: a user's opaque token, a delegation token, a tool-server JWT", async () => {
    const user = await loginUser(svc, { username: 'alice' });
    const delegation = await exchangeFor(svc, 'agent', user.accessToken, CRM);
    assert.equal(delegation.status, 200);
    // admin-cli may also obtain a JWT for the CRM tool server (resource CRM): another audience.
    const toolJwt = await postForm(`${svc.url}/token`, { grant_type: 'client_credentials', scope: 'crm.lookup_customer', resource: CRM }, { authorization: basicFor(svc, 'admin-cli') });
    assert.equal(toolJwt.status, 200, JSON.stringify(toolJwt.body));
    for (const t of [user.accessToken, delegation.body.access_token as string, toolJwt.body.access_token as string]) {
      const res = await call(svc, 'GET', '/admin/sessions', { token: t });
      assert.equal(res.status, 401);
      assert.equal(res.body.error, 'invalid_token');
    }
  });

  it('a valid client_credentials token without the admin scope: 403 insufficient_scope', async () => {
    const readerToken = await adminToken(svc, READER);
    const res = await call(svc, 'POST', '/admin/subjects/user-bob/revoke', { token: readerToken, json: { reason: 'not allowed' } });
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, { error: 'insufficient_scope', error_description: 'the access token lacks the admin scope' });
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${svc.url}/admin", error="insufficient_scope", scope="admin"`);
    const denied = adminEvents().at(-1)!;
    assert.equal(denied.decision, 'deny');
    assert.equal(denied.clientId, READER);
    assert.deepEqual(denied.reasons, ['insufficient_scope']);
  });

  it('a token revoked at the RFC 7009 endpoint no longer works', async () => {
    const t = await adminToken(svc);
    assert.equal((await call(svc, 'GET', '/admin/sessions', { token: t })).status, 200);
    const revoked = await postForm(`${svc.url}/token/revocation`, { token: t }, { authorization: basicFor(svc, 'admin-cli') });
    assert.equal(revoked.status, 200);
    assert.equal((await call(svc, 'GET', '/admin/sessions', { token: t })).status, 401);
  });

  it('authentication comes before routing: unknown paths are 401 without a token, 404 with one; wrong method is 405', async () => {
    assert.equal((await call(svc, 'GET', '/admin/nothing-here')).status, 401);
    assert.equal((await call(svc, 'GET', '/admin')).status, 401);
    const unknown = await call(svc, 'GET', '/admin/nothing-here', { token });
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.body, { error: 'not_found', error_description: 'no such admin endpoint' });
    const wrongMethod = await call(svc, 'DELETE', '/admin/sessions', { token });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.body.error, 'method_not_allowed');
    assert.match(wrongMethod.headers.get('allow') ?? '', /GET/);
    const getOnRevoke = await call(svc, 'GET', '/admin/sessions/abc/revoke', { token });
    assert.equal(getOnRevoke.status, 405);
    assert.equal(getOnRevoke.headers.get('allow'), 'POST');
    // Paths next to /admin are not ours.
    assert.notEqual((await call(svc, 'GET', '/administrator')).headers.get('www-authenticate'), `Bearer realm="${svc.url}/admin"`);
  });

  it('every call emits one admin event, allowed or refused, and it lands in the audit trail', async () => {
    const before = adminEvents().length;
    const requestId = `req-${Date.now()}`;
    await call(svc, 'GET', '/admin/sessions', { headers: { 'x-request-id': `${requestId}-a` } });
    await call(svc, 'GET', '/admin/sessions', { token: 'nope', headers: { 'x-request-id': `${requestId}-b` } });
    await call(svc, 'GET', '/admin/sessions?limit=0', { token, headers: { 'x-request-id': `${requestId}-c` } });
    await call(svc, 'GET', '/admin/sessions', { token, headers: { 'x-request-id': `${requestId}-d` } });
    const mine = adminEvents().slice(before);
    assert.equal(mine.length, 4);
    const [none, bad, invalid, ok] = mine as Array<Extract<DecisionEvent, { type: 'admin' }>>;
    assert.deepEqual([none!.decision, none!.status, none!.reasons, none!.clientId], ['deny', 401, ['no_token'], undefined]);
    assert.deepEqual([bad!.decision, bad!.status, bad!.reasons], ['deny', 401, ['invalid_token', 'unknown_or_expired_token']]);
    assert.deepEqual([invalid!.decision, invalid!.status, invalid!.reasons, invalid!.clientId], ['allow', 400, ['authorized', 'invalid_request'], 'admin-cli']);
    assert.deepEqual([ok!.decision, ok!.status, ok!.reasons, ok!.method, ok!.path, ok!.requestId], ['allow', 200, ['authorized'], 'GET', '/admin/sessions', `${requestId}-d`]);

    await svc.service.flushAudit();
    const stored = await call(svc, 'GET', '/admin/audit?type=admin&limit=50', { token });
    assert.equal(stored.status, 200);
    const byRequest = new Map((stored.body.items as Array<Record<string, unknown>>).map((e) => [e.requestId, e]));
    for (const suffix of ['a', 'b', 'c', 'd']) assert.ok(byRequest.has(`${requestId}-${suffix}`), suffix);
    assert.equal(byRequest.get(`${requestId}-a`)!.decision, 'deny');
    assert.equal(byRequest.get(`${requestId}-d`)!.status, 200);
  });
});
