// Another company account logging in in the same browser (prompt=login): oidc-provider ends the first session, then
// creates the new one on a second pass of the same /auth/<uid>; that session must be linked for back-channel logout.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Browser } from '../helpers/browser.js';
import { postForm } from '../helpers/http.js';
import type { UpstreamIdp } from '../helpers/upstream_idp.js';
import { accountOf, assertSessionAlive, assertSessionEnded, authorize, sessionsOf, withUpstream, type Svc } from './flow.js';

describe('account switch in one browser (OpenID Back-Channel Logout 1.0 §2.7)', () => {
  let idp: UpstreamIdp;
  let svc: Svc;
  withUpstream((i, s) => ((idp = i), (svc = s)));

  const logout = async (claims: Record<string, unknown>) => postForm(`${svc.url}/backchannel-logout`, { logout_token: await idp.logoutToken(claims) });

  /** `first` logs in, then `second` in the same browser with prompt=login; returns both users' access tokens. */
  async function switchAccounts(first: string, second: string) {
    const browser = new Browser(svc);
    idp.user = { sub: first, sid: `up-${first}`, groups: [] };
    const one = await authorize(svc, browser);
    assert.ok(one.accessToken);
    idp.user = { sub: second, sid: `up-${second}`, groups: [] };
    const two = await authorize(svc, browser, { prompt: 'login' });
    assert.ok(two.accessToken, JSON.stringify(two));
    // The switch went through oidc-provider's logout confirmation: the first session ended, one session of the second.
    assert.ok(two.trail.includes('303 /session/end/confirm'), two.trail.join(' -> '));
    await assertSessionEnded(svc, one.accessToken);
    assert.equal((await sessionsOf(svc, accountOf(idp, second))).length, 1);
    return { first: one.accessToken, second: two.accessToken };
  }

  it('a logout token naming the new upstream session (sid) ends the session created by the switch', async () => {
    const { second } = await switchAccounts('kim', 'leo');
    await assertSessionAlive(svc, second);
    const res = await logout({ sid: 'up-leo', sub: 'leo' });
    assert.equal(res.status, 200);
    await assertSessionEnded(svc, second);
  });

  it('a logout token naming only the user (sub) ends the session created by the switch', async () => {
    const { second } = await switchAccounts('kira', 'lev');
    await assertSessionAlive(svc, second);
    const res = await logout({ sub: 'lev' });
    assert.equal(res.status, 200);
    await assertSessionEnded(svc, second);
  });
});
