// Log in with the company's identity provider (issue 12 item 6, SPEC §13): the upstream login end to end over HTTP
// against a test upstream provider, its refusals, and OpenID Back-Channel Logout ending our session and its tokens.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { Browser } from '../helpers/browser.js';
import { exchangeFor, postForm } from '../helpers/http.js';
import { BILLING, CRM, REDIRECT } from '../helpers/service.js';
import type { UpstreamIdp } from '../helpers/upstream_idp.js';
import { accountOf, withUpstream, type Svc } from './flow.js';

interface UpstreamLogin {
  /** The user's opaque access token, when the flow reached our redirect URI. */
  accessToken?: string;
  /** The response that stopped the flow otherwise. */
  stopped?: { status: number; url: string; body: string; headers: Headers };
}

/** Authorization code + PKCE at our service as `clientId`, following every redirect (upstream included) with cookies. */
async function loginUpstream(svc: Svc, browser = new Browser(svc), { clientId = 'agent', scope = 'openid crm.lookup_customer billing.refund_lookup' } = {}): Promise<UpstreamLogin> {
  const verifier = randomBytes(32).toString('base64url');
  const auth = new URL(`${svc.url}/auth`);
  auth.search = new URLSearchParams({
    client_id: clientId, response_type: 'code', redirect_uri: REDIRECT, scope, state: 'client-state',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  }).toString();
  let next = auth.href;
  for (let hops = 0; hops < 15; hops++) {
    if (next.startsWith(REDIRECT)) {
      const code = new URL(next).searchParams.get('code');
      if (!code) return { stopped: { status: 0, url: next, body: '', headers: new Headers() } };
      const token = await postForm(`${svc.url}/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: svc.basic(clientId) });
      assert.equal(token.status, 200, JSON.stringify(token.body));
      return { accessToken: token.body.access_token as string };
    }
    const res = await browser.fetch(next);
    let location = res.headers.get('location');
    if (!location) {
      const body = await res.text();
      // The login page with both logins: the user picks the company account.
      location = res.status === 200 ? (/href="(\/interaction\/[\w-]+\/upstream\/start)"/.exec(body)?.[1] ?? null) : null;
      if (!location) return { stopped: { status: res.status, url: next, body, headers: res.headers } };
      next = new URL(location, next).href;
      continue;
    }
    await res.body?.cancel();
    next = new URL(location, next).href;
  }
  throw new Error('too many redirects');
}


describe('upstream login (OpenID Connect, openid-client)', () => {
  let idp: UpstreamIdp;
  let svc: Svc;
  withUpstream((i, s) => ((idp = i), (svc = s)));

  it('logs a user in through the upstream provider: the exchange issues a delegation token for the namespaced account, with its upstream groups', async () => {
    idp.user = { sub: 'carol', sid: 'up-sess-carol', groups: ['finance', 'ignored-by-policy'], name: 'Carol' };
    const { accessToken, stopped } = await loginUpstream(svc);
    assert.ok(accessToken, JSON.stringify(stopped));
    // billing needs `finance` (the agent's rule and the tool server's allowedGroups): the upstream groups decide.
    const res = await exchangeFor(svc, 'agent', accessToken, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const claims = decodeJwt(res.body.access_token as string);
    assert.equal(claims.sub, accountOf(idp, 'carol'));
    assert.deepEqual(claims.groups, ['finance']);
    assert.deepEqual(claims.act, { sub: 'agent' });
    assert.equal(claims.aud, BILLING);
  });

  it('an upstream user outside the group the policy names is refused, as a local one would be', async () => {
    idp.user = { sub: 'dave', sid: 'up-sess-dave', groups: ['support'] };
    const { accessToken } = await loginUpstream(svc);
    assert.ok(accessToken);
    const res = await exchangeFor(svc, 'agent', accessToken, BILLING, { scope: 'billing.refund_lookup' });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'the subject may not be delegated to this client' });
    const crm = await exchangeFor(svc, 'agent', accessToken, CRM, { scope: 'crm.lookup_customer' });
    assert.equal(crm.status, 200);
    assert.equal(decodeJwt(crm.body.access_token as string).sub, accountOf(idp, 'dave'));
  });

  it('groups come from userinfo when the ID token lacks the groups claim', async () => {
    idp.user = { sub: 'erin', sid: 'up-sess-erin' };
    idp.userinfo = { groups: ['finance'] };
    try {
      const { accessToken } = await loginUpstream(svc);
      const res = await exchangeFor(svc, 'agent', accessToken!, BILLING, { scope: 'billing.refund_lookup' });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(decodeJwt(res.body.access_token as string).groups, ['finance']);
    } finally {
      idp.userinfo = {};
    }
  });

  it('a callback whose state is not the one sent is refused (400), and nobody is logged in', async () => {
    idp.user = { sub: 'carol', sid: 'up-sess-x', groups: ['finance'] };
    idp.callback = (q) => q.set('state', `${q.get('state')}tampered`);
    try {
      const { accessToken, stopped } = await loginUpstream(svc);
      assert.equal(accessToken, undefined);
      assert.equal(stopped?.status, 400);
      assert.match(stopped!.url, /\/interaction\/[\w-]+\/upstream\?/);
      assert.deepEqual(JSON.parse(stopped!.body), { error: 'invalid_request', error_description: 'upstream login failed' });
      assert.equal(stopped!.headers.get('cache-control'), 'no-store');
    } finally {
      idp.callback = undefined;
    }
  });

  it('a callback without a state is refused at the callback', async () => {
    const res = await fetch(`${svc.url}/login/upstream/callback?code=abc`, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { error: 'invalid_request', error_description: 'upstream login failed' });
  });

  for (const [name, override] of [
    ['another audience', { aud: 'someone-else' }],
    ['another issuer', { iss: 'https://evil.example' }],
    ['another nonce', { nonce: 'not-the-one-sent' }],
    ['an expired one', { exp: Math.floor(Date.now() / 1000) - 600 }],
  ] as const) {
    it(`an ID token with ${name} is refused (400)`, async () => {
      idp.user = { sub: 'mallory', sid: 'up-sess-m', groups: ['finance'] };
      idp.idToken = override;
      try {
        const { accessToken, stopped } = await loginUpstream(svc);
        assert.equal(accessToken, undefined);
        assert.equal(stopped?.status, 400);
        assert.deepEqual(JSON.parse(stopped!.body), { error: 'invalid_request', error_description: 'upstream login failed' });
      } finally {
        idp.idToken = undefined;
      }
    });
  }

  it('with only the upstream login configured, the demo login cannot be used', async () => {
    const browser = new Browser(svc);
    const res = await browser.fetch(`/auth?${new URLSearchParams({ client_id: 'agent', response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`);
    const interaction = res.headers.get('location')!;
    const page = await browser.fetch(interaction);
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), `${new URL(interaction, svc.url).pathname}/upstream/start`);
    const post = await browser.fetch(`${interaction}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=alice' });
    assert.equal(post.status, 404);
  });

  describe('back-channel logout (OpenID Back-Channel Logout 1.0)', () => {
    const logout = (token: string | undefined) => postForm(`${svc.url}/backchannel-logout`, { logout_token: token });

    async function loggedIn(sub: string, sid: string | undefined) {
      idp.user = { sub, ...(sid ? { sid } : {}), groups: ['finance'] };
      const { accessToken } = await loginUpstream(svc);
      assert.ok(accessToken);
      const first = await exchangeFor(svc, 'agent', accessToken, CRM, { scope: 'crm.lookup_customer' });
      assert.equal(first.status, 200);
      return { accessToken, delegation: first.body.access_token as string };
    }

    async function assertRevoked({ accessToken, delegation }: { accessToken: string; delegation: string }) {
      const again = await exchangeFor(svc, 'agent', accessToken, CRM, { scope: 'crm.lookup_customer' });
      assert.equal(again.status, 400);
      assert.deepEqual(again.body, { error: 'invalid_request', error_description: 'subject_token is invalid' });
      const introspected = await postForm(`${svc.url}/token/introspection/delegation`, { token: delegation }, { authorization: svc.basic('crm-server') });
      assert.equal(introspected.status, 200);
      assert.deepEqual(introspected.body, { active: false });
    }

    async function assertAlive({ accessToken, delegation }: { accessToken: string; delegation: string }) {
      assert.equal((await exchangeFor(svc, 'agent', accessToken, CRM, { scope: 'crm.lookup_customer' })).status, 200);
      assert.equal((await postForm(`${svc.url}/token/introspection/delegation`, { token: delegation }, { authorization: svc.basic('crm-server') })).body.active, true);
    }

    it('a valid logout token naming the upstream session ends our session: re-exchange 400, the delegation token inactive; other sessions live', async () => {
      const target = await loggedIn('frank', 'up-sess-frank-1');
      const other = await loggedIn('frank', 'up-sess-frank-2');
      const res = await logout(await idp.logoutToken({ sid: 'up-sess-frank-1', sub: 'frank' }));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.deepEqual(res.body, {});
      await assertRevoked(target);
      await assertAlive(other);
    });

    it('a logout token with only sub ends every session of that upstream user, and nobody else\'s', async () => {
      const one = await loggedIn('grace', 'up-sess-grace-1');
      const two = await loggedIn('grace', undefined);
      const bystander = await loggedIn('heidi', 'up-sess-heidi');
      const res = await logout(await idp.logoutToken({ sub: 'grace' }));
      assert.equal(res.status, 200);
      await assertRevoked(one);
      await assertRevoked(two);
      await assertAlive(bystander);
    });

    it('a logout token for a session we do not know is still 200', async () => {
      const res = await logout(await idp.logoutToken({ sid: 'never-seen' }));
      assert.equal(res.status, 200);
    });

    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const invalid: Array<[string, () => Promise<string>]> = [
      ['signed with another key', () => idp.logoutToken({ sid: 'up-sess-ivan' }, {}, otherKey)],
      ['carrying a nonce', () => idp.logoutToken({ sid: 'up-sess-ivan', nonce: 'n' })],
      ['without events', () => idp.logoutToken({ sid: 'up-sess-ivan', events: undefined })],
      ['with events lacking the back-channel logout member', () => idp.logoutToken({ sid: 'up-sess-ivan', events: { 'http://schemas.openid.net/event/other': {} } })],
      ['with neither sub nor sid', () => idp.logoutToken({})],
      ['for another audience', () => idp.logoutToken({ sid: 'up-sess-ivan', aud: 'someone-else' })],
      ['from another issuer', () => idp.logoutToken({ sid: 'up-sess-ivan', iss: 'https://evil.example' })],
      ['without jti', () => idp.logoutToken({ sid: 'up-sess-ivan', jti: undefined })],
      ['without iat', () => idp.logoutToken({ sid: 'up-sess-ivan', iat: undefined })],
      ['without exp', () => idp.logoutToken({ sid: 'up-sess-ivan', exp: undefined })],
      ['typed as an access token', () => idp.logoutToken({ sid: 'up-sess-ivan' }, { typ: 'at+jwt' })],
      ['not a JWT at all', async () => 'garbage'],
    ];
    for (const [name, make] of invalid) {
      it(`a logout token ${name} is refused (400) and ends nothing`, async () => {
        const session = await loggedIn('ivan', 'up-sess-ivan');
        const res = await logout(await make());
        assert.equal(res.status, 400);
        assert.equal(res.headers.get('cache-control'), 'no-store');
        assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'invalid logout token' });
        await assertAlive(session);
      });
    }

    it('a replayed logout token (same jti) is refused (400): it cannot end a later session', async () => {
      await loggedIn('judy', 'up-sess-judy');
      const token = await idp.logoutToken({ sid: 'up-sess-judy' });
      assert.equal((await logout(token)).status, 200);
      const later = await loggedIn('judy', 'up-sess-judy');
      const replay = await logout(token);
      assert.equal(replay.status, 400);
      assert.deepEqual(replay.body, { error: 'invalid_request', error_description: 'invalid logout token' });
      await assertAlive(later);
    });

    it('a request without logout_token is 400', async () => {
      const res = await logout(undefined);
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'logout_token is required' });
    });
  });
});

describe('upstream login beside the demo login', () => {
  let idp: UpstreamIdp;
  let svc: Svc;
  withUpstream((i, s) => ((idp = i), (svc = s)), {}, { demo: true });

  it('the login page offers both; either one logs in', async () => {
    const browser = new Browser(svc);
    const res = await browser.fetch(`/auth?${new URLSearchParams({ client_id: 'agent', response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`);
    const page = await browser.fetch(res.headers.get('location')!);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /name="username" value="alice"/);
    assert.match(html, /href="\/interaction\/[\w-]+\/upstream\/start">Sign in with your company account</);
    const { accessToken } = await loginUpstream(svc);
    assert.ok(accessToken);
    assert.equal((await exchangeFor(svc, 'agent', accessToken, CRM, { scope: 'crm.lookup_customer' })).status, 200);
  });
});
