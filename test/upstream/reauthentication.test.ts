// Forced re-authentication (OpenID Connect Core §3.1.2.1): the client's prompt=login and max_age reach the company's
// provider, and auth_time is when the user authenticated there, not when our login finished.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { Browser } from '../helpers/browser.js';
import { exchangeFor } from '../helpers/http.js';
import { CRM } from '../helpers/service.js';
import { startUpstreamIdp, type UpstreamIdp } from '../helpers/upstream_idp.js';
import { authorize, startWithUpstream, type Svc } from './flow.js';

const now = () => Math.floor(Date.now() / 1000);

describe('upstream re-authentication', () => {
  let idp: UpstreamIdp;
  let svc: Svc;
  before(async () => {
    idp = await startUpstreamIdp();
    svc = await startWithUpstream(idp);
  });
  after(async () => {
    await svc?.stop();
    await idp?.stop();
  });

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

  it("the delegation token's auth_time is the upstream ID token's auth_time", async () => {
    const upstreamAuthTime = now() - 3600;
    assert.equal(await delegatedAuthTime('rosa', { auth_time: upstreamAuthTime }), upstreamAuthTime);
  });

  it('with max_age, an upstream authentication within it is accepted with its auth_time', async () => {
    const upstreamAuthTime = now() - 10;
    assert.equal(await delegatedAuthTime('rosa', { auth_time: upstreamAuthTime }, { max_age: '60' }), upstreamAuthTime);
  });

  it('an upstream auth_time in the future counts as now; none at all, as the time of our login', async () => {
    const start = now();
    const future = await delegatedAuthTime('sam', { auth_time: now() + 3600 });
    assert.ok(typeof future === 'number' && future >= start && future <= now(), String(future));
    const missing = await delegatedAuthTime('sam', { auth_time: undefined });
    assert.ok(typeof missing === 'number' && missing >= start && missing <= now(), String(missing));
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
