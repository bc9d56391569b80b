// README "Revoking": a user (`sub`) or agent (`client`) revocation covers every token issued at or before the cutoff,
// "a later login starts afresh". A user revocation ends the user's sessions; a session that logged in before a cutoff
// and was not ended gets nothing exchangeable after it, even
// without a login: not by single sign-on at /auth, not by a refresh. The cutoffs compare with the session's login.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Browser } from '../helpers/browser.js';
import { exchangeFor, postForm } from '../helpers/http.js';
import { CRM, EXCHANGE, REDIRECT, startService, testConfig, type TestService } from '../helpers/service.js';
import { adminToken, call } from './helpers.js';

const SUBJECT_INVALID = { error: 'invalid_request', error_description: 'subject_token is invalid' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('user and agent cutoffs against sessions that logged in before them', () => {
  let svc: TestService;
  let admin: string;
  before(async () => {
    svc = await startService({
      extra: (port) => {
        const base = testConfig(port, '', '');
        // The agent may also refresh its users' tokens (offline_access).
        return { clients: base.clients!.map((c) => (c.client_id === 'agent' ? { ...c, grant_types: ['authorization_code', 'refresh_token', EXCHANGE] } : c)) };
      },
    });
    admin = await adminToken(svc);
  });
  after(() => svc.stop());

  /** Code + PKCE as `username` in `browser` (a login form only when the browser has no session); the token response. */
  async function codeFlow(browser: Browser, username: string) {
    const verifier = randomBytes(32).toString('base64url');
    const auth = new URL(`${svc.url}/auth`);
    auth.search = new URLSearchParams({
      client_id: 'agent', response_type: 'code', redirect_uri: REDIRECT, scope: 'openid offline_access crm.lookup_customer', state: 's', prompt: 'consent',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    }).toString();
    let next: string | null = auth.href;
    let logins = 0;
    for (let hops = 0; hops < 12 && next; hops++) {
      if (next.startsWith(REDIRECT)) {
        const code = new URL(next).searchParams.get('code')!;
        const res = await postForm(`${svc.url}/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: svc.basic('agent') });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return { accessToken: res.body.access_token as string, refreshToken: res.body.refresh_token as string, logins };
      }
      const url = new URL(next, svc.url);
      const res = await browser.fetch(url);
      await res.text();
      if (process.env.DEBUG_FLOW) console.log(res.status, url.pathname, res.headers.get('location'));
      if (res.status === 200 && url.pathname.startsWith('/interaction/') && !url.pathname.endsWith('/consent')) {
        logins++;
        const post = await browser.fetch(`${url.href}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username }) });
        next = post.headers.get('location');
        continue;
      }
      next = res.headers.get('location');
    }
    throw new Error('the authorization flow did not reach the redirect URI');
  }

  it('revoke-subject ends the user\'s sessions, also one the registry never saw: the same browser logs in again', async () => {
    const browser = new Browser(svc);
    const first = await codeFlow(browser, 'alice');
    assert.equal(first.logins, 1);
    // The registry has never seen this session (no exchange yet): it ends all the same (the provider's account index).
    const revoked = await call(svc, 'POST', '/admin/subjects/user-alice/revoke', { token: admin, json: { reason: 'left the company' } });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal((revoked.body.endedSessions as string[]).length, 1);
    await sleep(1100);
    const again = await codeFlow(browser, 'alice');
    assert.equal(again.logins, 1, 'the session ended: a login form');
    assert.equal((await exchange(again.accessToken))[0], 200);
  });

  it('a sub cutoff whose session was not ended (e.g. ending it failed): a token got by single sign-on after it is refused; a new login is not', async () => {
    const browser = new Browser(svc);
    const first = await codeFlow(browser, 'alice');
    assert.equal(first.logins, 1);
    // The marker alone, as a revocation whose provider sessions could not be ended leaves it.
    const now = Math.floor(Date.now() / 1000);
    await svc.service.stores.exchange.revoke({ kind: 'sub', value: 'user-alice', revokedAt: now, expiresAt: now + 3600, by: 'admin-cli' });
    await sleep(1100);
    const sso = await codeFlow(browser, 'alice');
    assert.equal(sso.logins, 0, 'single sign-on: no login form');
    assert.deepEqual(await exchange(sso.accessToken), [400, SUBJECT_INVALID]);
    // A login after the cutoff starts afresh.
    const fresh = await codeFlow(new Browser(svc), 'alice');
    assert.equal(fresh.logins, 1);
    assert.equal((await exchange(fresh.accessToken))[0], 200);
  });

  it('revoke-client: a refresh after the cutoff yields a token the client cannot exchange; a new login can', async () => {
    const before = await codeFlow(new Browser(svc), 'bob');
    assert.equal((await exchange(before.accessToken))[0], 200);
    await sleep(1100);
    const revoked = await call(svc, 'POST', '/admin/clients/agent/revoke', { token: admin, json: { reason: 'agent compromised' } });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    await sleep(1100);
    const refreshed = await postForm(`${svc.url}/token`, { grant_type: 'refresh_token', refresh_token: before.refreshToken }, { authorization: svc.basic('agent') });
    if (refreshed.status === 200) assert.deepEqual(await exchange(refreshed.body.access_token as string), [400, SUBJECT_INVALID]);
    else assert.equal(refreshed.body.error, 'invalid_grant');
    const fresh = await codeFlow(new Browser(svc), 'bob');
    assert.equal((await exchange(fresh.accessToken))[0], 200);
  });

  async function exchange(token: string): Promise<[number, unknown]> {
    const res = await exchangeFor(svc, 'agent', token, CRM);
    return [res.status, res.status === 200 ? undefined : res.body];
  }
});
