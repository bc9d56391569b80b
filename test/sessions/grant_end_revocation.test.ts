// Ending a provider grant revokes every delegation token exchanged from the grant's opaque user access token, as it
// does the authorization code flow's: both carry the grant's root digest first in `ancestors`. Each way a grant ends
// (code reuse, refresh token reuse, RFC 7009 revocation of the refresh token, a client-only logout, the revocation
// service's endGrant) makes the derived tokens inactive at introspection and refused at a hop.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { exchangeFor, postForm } from '../helpers/http.js';
import { BILLING, CRM, EXCHANGE, startService, testConfig, type TestService } from '../helpers/service.js';
import { basicFor, introspectDelegation } from '../admin/helpers.js';
import { confidentialLogin, type AuthResult } from '../grants/authorization_code/helpers.js';
import type { ExchangeDecisionEvent } from '../../src/audit/events.js';

const SUBJECT_INVALID = { error: 'invalid_request', error_description: 'subject_token is invalid' };
const digest = (id: string) => createHash('sha256').update(id).digest('base64url');

describe("ending a grant revokes the delegation tokens exchanged from its user token", () => {
  let svc: TestService;
  const events: ExchangeDecisionEvent[] = [];

  before(async () => {
    svc = await startService({
      extra: (port) => ({
        // `agent` may refresh, so its grants can end by refresh token reuse and RFC 7009 revocation too.
        clients: testConfig(port, '', '').clients!.map((c) => (c.client_id === 'agent' ? { ...c, grant_types: [...c.grant_types!, 'refresh_token'] } : c)),
      }),
    });
    svc.service.events.on((e) => {
      if (e.type === 'exchange') events.push(e);
    });
  });
  after(() => svc.stop());

  /** bob logs in at `agent` (offline_access: a refresh token too), `agent` exchanges his token, crm-server hops once. */
  async function chain() {
    const { auth, form, user, refreshToken, grantId } = await confidentialLogin(svc, { scope: 'openid offline_access crm.lookup_customer billing.refund_lookup' });
    const d = await exchangeFor(svc, 'agent', user, CRM, { scope: 'crm.lookup_customer billing.refund_lookup' });
    assert.equal(d.status, 200, JSON.stringify(d.body));
    const derived = d.body.access_token as string;
    const hop = await exchangeFor(svc, 'crm-server', derived, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(hop.status, 200, JSON.stringify(hop.body));
    return { auth, form, user, refreshToken, grantId, derived, hopped: hop.body.access_token as string };
  }

  async function assertRevoked(c: Awaited<ReturnType<typeof chain>>) {
    for (const [token, as] of [[c.derived, 'crm-server'], [c.hopped, 'billing-server']] as const) {
      assert.deepEqual((await introspectDelegation(svc, token, as)).body, { active: false });
    }
    const again = await exchangeFor(svc, 'crm-server', c.derived, BILLING, { scope: 'billing.refund_lookup' });
    assert.deepEqual([again.status, again.body], [400, SUBJECT_INVALID]);
    assert.deepEqual(events.at(-1)!.reasons, ['subject_token:ancestor_revoked']);
  }

  /** Client-only RP-initiated logout (no `logout=yes`): oidc-provider revokes this client's grant, the session lives on. */
  async function clientLogout(auth: AuthResult): Promise<void> {
    const page = await auth.browser.fetch('/session/end?client_id=agent');
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(await page.text())?.[1];
    assert.ok(xsrf, `no logout form (${page.status})`);
    const confirm = await auth.browser.fetch('/session/end/confirm', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ xsrf }) });
    await confirm.text();
    assert.ok([302, 303].includes(confirm.status), String(confirm.status));
  }

  it('the derived token carries the grant root first, then the user token, never an id; a hop adds its parent', async () => {
    const { user, grantId, derived, hopped } = await chain();
    assert.deepEqual(decodeJwt(derived).ancestors, [digest(`grant:${grantId}`), digest(user)]);
    assert.deepEqual(decodeJwt(hopped).ancestors, [digest(`grant:${grantId}`), digest(user), digest(decodeJwt(derived).jti!)]);
    assert.ok(!JSON.stringify(decodeJwt(derived)).includes(grantId));
  });

  it('RFC 6749 §4.1.2: a reused authorization code ends the grant, and its derived tokens with it', async () => {
    const c = await chain();
    const bystander = await chain();
    const reused = await postForm(`${svc.url}/token`, c.form, { authorization: svc.basic('agent') });
    assert.deepEqual(reused.body, { error: 'invalid_grant', error_description: 'grant request is invalid' });
    await assertRevoked(c);
    assert.equal((await introspectDelegation(svc, bystander.derived)).body.active, true);
  });

  it('RFC 9700 §4.14.2: a reused rotated refresh token ends the grant, and its derived tokens with it', async () => {
    const c = await chain();
    const refresh = { grant_type: 'refresh_token', refresh_token: c.refreshToken };
    assert.equal((await postForm(`${svc.url}/token`, refresh, { authorization: svc.basic('agent') })).status, 200);
    assert.equal((await postForm(`${svc.url}/token`, refresh, { authorization: svc.basic('agent') })).status, 400);
    await assertRevoked(c);
  });

  it("RFC 7009: revoking the grant's refresh token ends the grant, and its derived tokens with it", async () => {
    const c = await chain();
    const revoked = await postForm(`${svc.url}/token/revocation`, { token: c.refreshToken, token_type_hint: 'refresh_token' }, { authorization: basicFor(svc, 'agent') });
    assert.equal(revoked.status, 200);
    await assertRevoked(c);
  });

  it("a client-only logout ends that client's grant, and its derived tokens with it", async () => {
    const c = await chain();
    await clientLogout(c.auth);
    await assertRevoked(c);
  });

  it("the revocation service's endGrant (admin consent revocation, client deletion) ends the derived tokens too", async () => {
    const c = await chain();
    await svc.service.revocation.endGrant(c.grantId);
    await assertRevoked(c);
  });

  it('the token exchanged from a user token of an ended grant is refused (the token ended with it)', async () => {
    const c = await chain();
    await svc.service.revocation.endGrant(c.grantId);
    const res = await postForm(`${svc.url}/token`, { grant_type: EXCHANGE, subject_token: c.user, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', resource: CRM }, { authorization: svc.basic('agent') });
    assert.deepEqual([res.status, res.body], [400, SUBJECT_INVALID]);
  });
});
