// Issue 8 items 2 and 6: a revoked client cannot mint from what it already holds (every subject token type), a token
// obtained after the revocation works, and the deny event of a revocation carries the full actor chain.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exchangeFor, loginUser, postForm } from '../helpers/http.js';
import { BILLING, CRM, JWT_TYPE, randomUUID, startService, testConfig, type TestService } from '../helpers/service.js';
import { startTestIdp, type TestIdp } from '../helpers/test_idp.js';
import { decodeJwt } from 'jose';
import { adminToken, call } from '../admin/helpers.js';
import { sidPrefixFor } from '../../src/token_types/context.js';

const SUBJECT_INVALID = { error: 'invalid_request', error_description: 'subject_token is invalid' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => Math.floor(Date.now() / 1000);

describe('client revocation at exchange: the requesting client and the chain, for every subject token type', () => {
  let svc: TestService;
  let idp: TestIdp;
  let admin: string;

  const revokeClient = async (clientId: string) => {
    const res = await call(svc, 'POST', `/admin/clients/${clientId}/revoke`, { token: admin, json: { reason: 'test' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.revokedAt as number;
  };
  const external = (extra: Record<string, unknown> = {}) =>
    idp.sign(idp.claims({ sub: `ext-${randomUUID()}`, sid: randomUUID(), aud: svc.url, ...extra }));
  /** The newest deny events of a session, from the durable audit stream. */
  async function denies(sid: string): Promise<Array<Record<string, unknown>>> {
    await svc.service.flushAudit();
    const res = await call(svc, 'GET', `/admin/audit?type=exchange&decision=deny&sid=${encodeURIComponent(sid)}`, { token: admin });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.items as Array<Record<string, unknown>>;
  }

  before(async () => {
    idp = await startTestIdp();
    svc = await startService({
      extra: (port) => ({
        trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri, audience: `http://127.0.0.1:${port}`, allowedScopes: ['crm.lookup_customer'] }],
      }),
    });
    admin = await adminToken(svc);
  });
  after(async () => {
    await svc.stop();
    await idp.stop();
  });

  it('agent: an external IdP JWT issued before revoke-client is refused, with act in the deny event; a later one works', async () => {
    const before = await external();
    assert.equal((await exchangeFor(svc, 'agent2', await external(), CRM, { subject_token_type: JWT_TYPE })).status, 200);
    await sleep(1000 - (Date.now() % 1000) + 20);
    const earlier = await external({ iat: now() - 1 });
    await revokeClient('agent2');

    const refused = await exchangeFor(svc, 'agent2', before, CRM, { subject_token_type: JWT_TYPE });
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body, SUBJECT_INVALID);
    assert.deepEqual((await exchangeFor(svc, 'agent2', earlier, CRM, { subject_token_type: JWT_TYPE })).body, SUBJECT_INVALID);
    // Item 6: the deny caused by the revocation records the would-be chain.
    const [event] = (await denies(`${sidPrefixFor(idp.issuer)}.${decodeJwt(before).sid as string}`)).filter((e) => e.clientId === 'agent2');
    assert.deepEqual([event?.reasons, event?.error, event?.act], [['subject_token:client_revoked'], 'invalid_request', { sub: 'agent2' }]);

    // A token the agent obtains after the revocation (a fresh login at the IdP) works.
    await sleep(1100);
    const fresh = await exchangeFor(svc, 'agent2', await external(), CRM, { subject_token_type: JWT_TYPE });
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
  });

  it("agent: the provider's opaque user token obtained before revoke-client is refused; a fresh login works", async () => {
    const user = await loginUser(svc, { clientId: 'agent2', username: 'bob' });
    assert.equal((await exchangeFor(svc, 'agent2', user.accessToken, CRM)).status, 200);
    await sleep(1100);
    await revokeClient('agent2');
    assert.deepEqual((await exchangeFor(svc, 'agent2', user.accessToken, CRM)).body, SUBJECT_INVALID);
    await sleep(1100);
    const fresh = await loginUser(svc, { clientId: 'agent2', username: 'bob' });
    assert.equal((await exchangeFor(svc, 'agent2', fresh.accessToken, CRM)).status, 200);
  });

  it('tool server: a revoked crm-server cannot re-exchange a delegation token it received earlier (deny event has the full chain); one issued later works', async () => {
    const user = await loginUser(svc, { clientId: 'agent', username: 'bob' });
    const crm = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer billing.refund_lookup' });
    assert.equal(crm.status, 200, JSON.stringify(crm.body));
    const received = crm.body.access_token as string;
    assert.equal((await exchangeFor(svc, 'crm-server', received, BILLING, { scope: 'billing.refund_lookup' })).status, 200);
    await sleep(1100);
    await revokeClient('crm-server');

    const refused = await exchangeFor(svc, 'crm-server', received, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body, SUBJECT_INVALID);
    const [event] = (await denies(decodeJwt(received).sid as string)).filter((e) => e.clientId === 'crm-server');
    assert.deepEqual([event?.reasons, event?.act], [['subject_token:client_revoked'], { sub: 'crm-server', act: { sub: 'agent' } }]);

    await sleep(1100);
    const later = await exchangeFor(svc, 'agent', user.accessToken, CRM, { scope: 'crm.lookup_customer billing.refund_lookup' });
    assert.equal(later.status, 200);
    const hop = await exchangeFor(svc, 'crm-server', later.body.access_token as string, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(hop.status, 200, JSON.stringify(hop.body));
  });
});

describe("client revocation reaches tokens another agent derived from the client's user tokens (subjectClients, an IdP's clients map)", () => {
  let svc: TestService;
  let idp: TestIdp;
  let admin: string;
  const introspect = async (token: string) => {
    const res = await postForm(`${svc.url}/token/introspection/delegation`, { token }, { authorization: svc.basic('crm-server') });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  before(async () => {
    idp = await startTestIdp();
    svc = await startService({
      extra: (port) => {
        const base = testConfig(port, '', '');
        // agent2 may also exchange the user tokens issued to agent (and, like agent, ask for the CRM server's billing scope).
        const agent2 = { clientId: 'agent2', subjectClients: ['agent'], toolServers: [{ resource: CRM, scopes: ['crm.lookup_customer', 'billing.refund_lookup'] }] };
        return {
          agents: base.agents!.map((a) => (a.clientId === 'agent2' ? agent2 : a)),
          // The IdP's tokens issued to its client `agent` may be exchanged by our agent and agent2.
          trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri, audience: `http://127.0.0.1:${port}`, allowedScopes: ['crm.lookup_customer'], clients: { agent: ['agent', 'agent2'] } }],
        };
      },
    });
    admin = await adminToken(svc);
  });
  after(async () => {
    await svc.stop();
    await idp.stop();
  });

  it("agent2's token from agent's user token names agent as prior actor; revoke-client agent ends it (introspection, hop)", async () => {
    const user = await loginUser(svc, { clientId: 'agent', username: 'bob' });
    const res = await exchangeFor(svc, 'agent2', user.accessToken, CRM, { scope: 'crm.lookup_customer billing.refund_lookup' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const token = res.body.access_token as string;
    // RFC 8693 §4.1: the current actor outermost, the client the user token was issued to nested as prior actor.
    const claims = decodeJwt(token);
    assert.deepEqual([claims.client_id, claims.act], ['agent2', { sub: 'agent2', act: { sub: 'agent' } }]);
    const live = await introspect(token);
    assert.deepEqual([live.active, live.act], [true, { sub: 'agent2', act: { sub: 'agent' } }]);
    // A token of agent2's own user is not touched by revoking agent.
    const own = await loginUser(svc, { clientId: 'agent2', username: 'bob' });
    const ownRes = await exchangeFor(svc, 'agent2', own.accessToken, CRM, { scope: 'crm.lookup_customer' });
    assert.equal(ownRes.status, 200, JSON.stringify(ownRes.body));
    assert.deepEqual(decodeJwt(ownRes.body.access_token as string).act, { sub: 'agent2' });
    // An IdP JWT issued to its client `agent` (azp), exchanged by agent2: agent, with the IdP as its issuer, is the prior actor.
    const jwt = await idp.sign(idp.claims({ sub: `ext-${randomUUID()}`, sid: randomUUID(), aud: svc.url, azp: 'agent' }));
    const ext = await exchangeFor(svc, 'agent2', jwt, CRM, { subject_token_type: JWT_TYPE });
    assert.equal(ext.status, 200, JSON.stringify(ext.body));
    assert.deepEqual(decodeJwt(ext.body.access_token as string).act, { sub: 'agent2', act: { sub: 'agent', iss: idp.issuer } });
    // Presented by the client it was issued to: that client alone.
    const extOwn = await exchangeFor(svc, 'agent', jwt, CRM, { subject_token_type: JWT_TYPE });
    assert.equal(extOwn.status, 200, JSON.stringify(extOwn.body));
    assert.deepEqual(decodeJwt(extOwn.body.access_token as string).act, { sub: 'agent' });

    await sleep(1100);
    const revoked = await call(svc, 'POST', '/admin/clients/agent/revoke', { token: admin, json: { reason: 'test' } });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));

    assert.deepEqual(await introspect(token), { active: false });
    const hop = await exchangeFor(svc, 'crm-server', token, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(hop.status, 400);
    assert.deepEqual(hop.body, SUBJECT_INVALID);
    // agent2 itself can no longer exchange agent's user token either; its own user's token still works.
    assert.deepEqual((await exchangeFor(svc, 'agent2', user.accessToken, CRM)).body, SUBJECT_INVALID);
    assert.equal((await introspect(ownRes.body.access_token as string)).active, true);
    // The same for the IdP JWT issued to agent: agent2's token from it ends, and agent2 cannot exchange it again.
    assert.deepEqual(await introspect(ext.body.access_token as string), { active: false });
    assert.deepEqual((await exchangeFor(svc, 'agent2', jwt, CRM, { subject_token_type: JWT_TYPE })).body, SUBJECT_INVALID);
  });
});
