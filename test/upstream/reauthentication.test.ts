// Forced re-authentication (OpenID Connect Core §3.1.2.1): the client's prompt=login and max_age reach the company's
// provider, and an upstream authentication older than max_age is login_required. The session's auth_time is the time
// of our login (what revocation cutoffs compare with), whatever the provider's single sign-on session says.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { Browser } from '../helpers/browser.js';
import { exchangeFor } from '../helpers/http.js';
import { CRM } from '../helpers/service.js';
import type { UpstreamIdp } from '../helpers/upstream_idp.js';
import { accountOf, authorize, withUpstream, type Svc } from './flow.js';
import { adminToken, call } from '../admin/helpers.js';

const now = () => Math.floor(Date.now() / 1000);

describe('upstream re-authentication', () => {
  let idp: UpstreamIdp;
  let svc: Svc;
  withUpstream((i, s) => ((idp = i), (svc = s)));

  /** A login with `idToken` claims over the upstream ID token; the delegation token's auth_time. */
  async function delegatedAuthTime(sub: string, idToken: Record<string, unknown> | undefined, extra: Record<string, string> = {}) {
    idp.user = { sub, sid: `up-${sub}`, groups: [] };
    idp.idToken = idToken;
    try {
      const end = await authorize(svc, new Browser(svc), extra);
      assert.ok(end.accessToken, JSON.stringify(end));
      const res = await exchangeFor(svc, 'agent', end.accessToken, CRM, { scope: 'crm.lookup_customer' });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return decodeJwt(res.body.access_token as string).auth_time;
    } finally {
      idp.idToken = undefined;
    }
  }

  it('prompt=login and max_age from the client are sent on in the upstream authorization request', async () => {
    idp.user = { sub: 'quinn', sid: 'up-quinn', groups: [] };
    assert.ok((await authorize(svc, new Browser(svc), { prompt: 'login', max_age: '600' })).accessToken);
    const sent = idp.authorizationRequests.at(-1)!;
    assert.equal(sent.get('prompt'), 'login');
    assert.equal(sent.get('max_age'), '600');
  });

  it('without them, the upstream authorization request carries neither', async () => {
    idp.user = { sub: 'quinn', sid: 'up-quinn-2', groups: [] };
    assert.ok((await authorize(svc, new Browser(svc))).accessToken);
    const sent = idp.authorizationRequests.at(-1)!;
    assert.equal(sent.get('prompt'), null);
    assert.equal(sent.get('max_age'), null);
  });

  it('max_age=0 is sent on as prompt=login (oidc-provider reads it so)', async () => {
    idp.user = { sub: 'quinn', sid: 'up-quinn-3', groups: [] };
    assert.ok((await authorize(svc, new Browser(svc), { max_age: '0' })).accessToken);
    const sent = idp.authorizationRequests.at(-1)!;
    assert.equal(sent.get('prompt'), 'login');
    assert.equal(sent.get('max_age'), null);
  });

  it("the delegation token's auth_time is our login's, whatever the upstream ID token's auth_time says", async () => {
    for (const upstream of [now() - 3600, now() + 3600, undefined]) {
      const start = now();
      const authTime = await delegatedAuthTime('rosa', { auth_time: upstream });
      assert.ok(typeof authTime === 'number' && authTime >= start && authTime <= now(), `${upstream}: ${authTime}`);
    }
  });

  it('with max_age, an upstream authentication within it is accepted', async () => {
    const start = now();
    const authTime = await delegatedAuthTime('rosa', { auth_time: now() - 10 }, { max_age: '60' });
    assert.ok(typeof authTime === 'number' && authTime >= start && authTime <= now(), String(authTime));
  });

  for (const [name, idToken] of [
    ['older than max_age', { auth_time: Math.floor(Date.now() / 1000) - 86_400 }],
    ['without auth_time', { auth_time: undefined }],
  ] as const) {
    it(`with max_age, an upstream authentication ${name} ends the authorization with login_required`, async () => {
      idp.user = { sub: 'tara', sid: 'up-tara', groups: [] };
      idp.idToken = idToken;
      try {
        const end = await authorize(svc, new Browser(svc), { max_age: '60', prompt: 'login' });
        assert.equal(end.accessToken, undefined);
        assert.deepEqual(Object.fromEntries(end.error!), {
          error: 'login_required',
          error_description: 'authentication is older than max_age',
          state: 'client-state',
          iss: svc.url,
        });
      } finally {
        idp.idToken = undefined;
      }
    });
  }
});

describe('a user revocation and the company login (README "Revoking": a later login starts afresh)', () => {
  let idp: UpstreamIdp;
  let svc: Svc;
  withUpstream((i, s) => ((idp = i), (svc = s)));

  it('a login after revoke-subject yields exchangeable tokens, even when the provider answers from an older single sign-on', async () => {
    idp.user = { sub: 'tess', sid: 'up-tess', groups: [] };
    // The user signed in at the company's provider ten minutes ago; every login here is answered from that session.
    idp.idToken = { auth_time: now() - 600 };
    try {
      const exchange = async (token: string) => (await exchangeFor(svc, 'agent', token, CRM, { scope: 'crm.lookup_customer' })).status;
      const browser = new Browser(svc);
      const first = await authorize(svc, browser);
      assert.equal(await exchange(first.accessToken!), 200);
      const revoked = await call(svc, 'POST', `/admin/subjects/${encodeURIComponent(accountOf(idp, 'tess'))}/revoke`, { token: await adminToken(svc), json: { reason: 'test' } });
      assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
      await new Promise((resolve) => setTimeout(resolve, 1100));
      // A new login here (a new browser): after the cutoff, whatever the provider's auth_time.
      const fresh = await authorize(svc, new Browser(svc));
      assert.equal(await exchange(fresh.accessToken!), 200);
    } finally {
      idp.idToken = undefined;
    }
  });
});
