// Revoking a consent ends every grant made under it that may still be alive, however many sessions the user authorized
// the client from; a consent that could not keep every grant id falls back to revoking the user (fail closed).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { exchangeFor, loginUser, postForm } from '../helpers/http.js';
import { CRM, startService, type TestService } from '../helpers/service.js';
import { Browser } from '../helpers/browser.js';
import { MAX_CONSENT_GRANTS } from '../../src/stores/types.js';
import { adminToken, call, introspectDelegation } from './helpers.js';

const WEB = 'https://app.example/callback';
const LOOKUP = 'crm.lookup_customer';

describe('admin API: revoke-consent reaches every grant of the consent', () => {
  let svc: TestService;
  let dcr = '';
  let admin = '';

  before(async () => {
    svc = await startService({
      extra: () => ({
        onboarding: { registration: { enabled: true, perIpPerMinute: 1000 } },
        onboardedClients: [{ clientIdHosts: [], dynamicallyRegistered: true, toolServers: [{ resource: CRM, scopes: [LOOKUP] }] }],
      }),
    });
    const res = await fetch(`${svc.url}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'web', redirect_uris: [WEB], application_type: 'web', grant_types: ['authorization_code', 'refresh_token'] }),
    });
    assert.equal(res.status, 201);
    dcr = ((await res.json()) as { client_id: string }).client_id;
    admin = await adminToken(svc);
  });
  after(() => svc.stop());

  /** One login session of alice authorizing the DCR client for the CRM (the consent page every time): its tokens. */
  async function authorizeInNewSession(): Promise<{ refreshToken: string; accessToken: string }> {
    const browser = new Browser(svc);
    const verifier = randomBytes(32).toString('base64url');
    const auth = new URL(`${svc.url}/auth`);
    auth.search = new URLSearchParams({
      client_id: dcr, response_type: 'code', redirect_uri: WEB, scope: `openid offline_access ${LOOKUP}`, state: 's', resource: CRM, prompt: 'consent',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    }).toString();
    let next: string | null = auth.href;
    for (let hops = 0; hops < 14 && next; hops++) {
      if (next.startsWith(WEB)) {
        const code = new URL(next).searchParams.get('code')!;
        const token = await postForm(`${svc.url}/token`, { grant_type: 'authorization_code', client_id: dcr, code, redirect_uri: WEB, code_verifier: verifier, resource: CRM });
        assert.equal(token.status, 200, JSON.stringify(token.body));
        return { refreshToken: token.body.refresh_token as string, accessToken: token.body.access_token as string };
      }
      const url = new URL(next, svc.url);
      const res = await browser.fetch(url);
      const html = await res.text();
      if (res.status === 200 && url.pathname.startsWith('/interaction/')) {
        const form = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } };
        if (html.includes('/login"')) {
          next = (await browser.fetch(`${url.href}/login`, { ...form, body: new URLSearchParams({ username: 'alice' }) })).headers.get('location');
          continue;
        }
        const action = /<form method="post" action="([^"]+)"/.exec(html)![1]!;
        const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
        next = (await browser.fetch(action, { ...form, body: new URLSearchParams({ csrf, decision: 'allow' }) })).headers.get('location');
        continue;
      }
      next = res.headers.get('location');
    }
    throw new Error('the authorization did not come back to the client');
  }

  it('21 sessions authorized the client: revoke-consent ends all 21 grants, the oldest session\'s refresh and delegation tokens too', async () => {
    const sessions = [];
    for (let i = 0; i < 21; i++) sessions.push(await authorizeInNewSession());
    const listed = await call(svc, 'GET', `/admin/consents?sub=user-alice&client_id=${encodeURIComponent(dcr)}`, { token: admin });
    assert.deepEqual((listed.body.items as Array<{ grants: number }>).map((c) => c.grants), [21]);

    const res = await call(svc, 'POST', '/admin/consents/revoke', { token: admin, json: { sub: 'user-alice', client_id: dcr, resource: CRM, reason: 'user asked' } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual([res.body.revoked, res.body.endedGrants, res.body.subjectRevoked], [true, 21, false]);

    for (const [label, s] of [['oldest', sessions[0]!], ['newest', sessions[20]!]] as const) {
      assert.equal((await introspectDelegation(svc, s.accessToken)).body.active, false, `${label} delegation token`);
      const refreshed = await postForm(`${svc.url}/token`, { grant_type: 'refresh_token', client_id: dcr, refresh_token: s.refreshToken, resource: CRM });
      assert.deepEqual([refreshed.status, refreshed.body.error], [400, 'invalid_grant'], `${label} refresh token`);
    }
  });

  it(`a consent past ${MAX_CONSENT_GRANTS} live grants (some ids dropped): revoke-consent also revokes the user, and says so`, async () => {
    const bob = await loginUser(svc, { username: 'bob' });
    assert.equal((await exchangeFor(svc, 'agent', bob.accessToken, CRM, { scope: LOOKUP })).status, 200);
    const client = `dcr_${randomBytes(6).toString('hex')}`;
    const at = Math.floor(Date.now() / 1000);
    for (let i = 0; i <= MAX_CONSENT_GRANTS; i++) {
      await svc.service.stores.consents.remember({ accountId: 'user-bob', clientId: client, resource: CRM, scopes: [LOOKUP], grantId: `grant-${i}`, at });
    }
    const res = await call(svc, 'POST', '/admin/consents/revoke', {
      token: admin, json: { sub: 'user-bob', client_id: client, resource: CRM, reason: 'compromised client' }, headers: { 'x-request-id': 'overflowed-consent' },
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual([res.body.revoked, res.body.endedGrants, res.body.subjectRevoked], [true, MAX_CONSENT_GRANTS, true]);
    // The user's revocation: recorded with the same caller, reason and request id; bob's tokens are refused from now on.
    await svc.service.flushAudit();
    const events = await call(svc, 'GET', '/admin/audit?type=revocation&limit=500&sub=user-bob', { token: admin });
    const bySub = (events.body.items as Array<Record<string, unknown>>).filter((e) => e.kind === 'sub');
    assert.deepEqual(bySub.map((e) => [e.value, e.reason, e.requestId, e.clientId]), [['user-bob', 'compromised client', 'overflowed-consent', 'admin-cli']]);
    const refused = await exchangeFor(svc, 'agent', bob.accessToken, CRM, { scope: LOOKUP });
    assert.deepEqual([refused.status, refused.body.error], [400, 'invalid_request']);
  });

  it('delete-client: an overflowed consent needs no user revocation (the client cutoff reaches every token it obtained)', async () => {
    const client = `dcr_${randomBytes(6).toString('hex')}`;
    const at = Math.floor(Date.now() / 1000);
    for (let i = 0; i <= MAX_CONSENT_GRANTS; i++) {
      await svc.service.stores.consents.remember({ accountId: 'user-carol', clientId: client, resource: CRM, scopes: [LOOKUP], grantId: `carol-grant-${i}`, at });
    }
    const res = await call(svc, 'POST', `/admin/clients/${client}/delete`, { token: admin, json: { reason: 'gone' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.revokedConsents, 1);
    await svc.service.flushAudit();
    const events = await call(svc, 'GET', '/admin/audit?type=revocation&limit=500&sub=user-carol', { token: admin });
    assert.deepEqual((events.body.items as Array<Record<string, unknown>>).map((e) => e.kind), ['consent']);
  });
});
