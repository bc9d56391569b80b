// The consent page for onboarded clients (SPEC §13, issue 12 item 5): what it shows (exact host strings, the localhost
// warning), remembered consent per (user, client, resource) across sessions, prompt=consent, the page on every
// authorization for public clients whose redirect cannot assure their identity (RFC 8252 §8.6), deny → access_denied
// with iss (RFC 9207), the CSRF binding, and the admin API listing and revoking consents and onboarded clients.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { startService, CRM, BILLING, type TestService } from '../helpers/service.js';
import { Browser } from '../helpers/browser.js';
import { postForm } from '../helpers/http.js';
import { startDocServer, type DocServer } from '../../tools/https_docs.js';
import { adminToken, call, introspectDelegation } from '../admin/helpers.js';
import { main } from '../../src/admin/cli.js';
import { clientIdentityAssured, consentPolicy } from '../../src/provider/consent.js';

const NATIVE_REDIRECT = 'http://127.0.0.1:61234/callback';
const WEB_REDIRECT = 'https://app.example/callback';
const PRIVATE_USE_REDIRECT = 'com.example.app:/oauth2redirect';

interface Step {
  browser: Browser;
  verifier: string;
  /** The consent page's HTML, when one was shown. */
  page?: string;
  /** Where the page's form posts, and its CSRF token. */
  form?: { action: string; csrf: string };
  /** The final redirect to the client. */
  redirect?: URL;
  /** The redirect came from the error page's link (RFC 9700 §4.11.2): the user chose to continue. */
  held?: boolean;
}

describe('consent for onboarded clients', () => {
  let docs: DocServer;
  let svc: TestService;
  let admin: string;
  let cimdId: string;
  let webCimdId: string;
  let appCimdId: string;
  let keyedCimdId: string;

  before(async () => {
    docs = await startDocServer();
    svc = await startService({
      extra: () => ({
        onboarding: {
          clientIdMetadataDocument: { enabled: true, allowedHosts: [docs.host], caFile: docs.caFile },
          registration: { enabled: true },
        },
        onboardedClients: [
          { clientIdHosts: [docs.host], dynamicallyRegistered: true, toolServers: [{ resource: CRM, scopes: ['crm.lookup_customer', 'crm.export_customers'] }, { resource: BILLING, scopes: ['billing.refund_lookup'] }] },
        ],
      }),
    });
    cimdId = `${docs.origin}/native.json`;
    docs.set('/native.json', { client_id: cimdId, client_name: 'Native <Tool> & "Co"', redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none', application_type: 'native', grant_types: ['authorization_code', 'refresh_token'] });
    webCimdId = `${docs.origin}/web.json`;
    docs.set('/web.json', { client_id: webCimdId, client_name: 'Web client', redirect_uris: [WEB_REDIRECT], token_endpoint_auth_method: 'none', application_type: 'web', grant_types: ['authorization_code', 'refresh_token'] });
    appCimdId = `${docs.origin}/app.json`;
    docs.set('/app.json', { client_id: appCimdId, client_name: 'Native app', redirect_uris: [PRIVATE_USE_REDIRECT], token_endpoint_auth_method: 'none', application_type: 'native', grant_types: ['authorization_code', 'refresh_token'] });
    keyedCimdId = `${docs.origin}/keyed.json`;
    const jwk = await exportJWK((await generateKeyPair('ES256')).publicKey);
    docs.set('/keyed.json', { client_id: keyedCimdId, client_name: 'Keyed native', redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...jwk, alg: 'ES256', use: 'sig' }] }, application_type: 'native', grant_types: ['authorization_code', 'refresh_token'] });
    admin = await adminToken(svc);
  });
  after(async () => {
    await svc?.stop();
    await docs?.close();
  });

  /** /auth → dev login (when asked) → the consent page, submitted with `decision` (or stopping there when none). */
  async function run(o: { clientId: string; redirectUri?: string; scope?: string; resource?: string; prompt?: string; username?: string; browser?: Browser; decision?: 'allow' | 'deny' | null; csrf?: string }): Promise<Step> {
    const browser = o.browser ?? new Browser(svc);
    const redirectUri = o.redirectUri ?? NATIVE_REDIRECT;
    const verifier = randomBytes(32).toString('base64url');
    const auth = new URL(`${svc.url}/auth`);
    auth.search = new URLSearchParams({
      client_id: o.clientId, response_type: 'code', redirect_uri: redirectUri, scope: o.scope ?? 'openid offline_access crm.lookup_customer', state: 'st-1',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', resource: o.resource ?? CRM,
      ...(o.prompt ? { prompt: o.prompt } : {}),
    }).toString();
    const step: Step = { browser, verifier };
    let next: string | null = auth.href;
    for (let hops = 0; hops < 14 && next; hops++) {
      if (next.startsWith(redirectUri)) {
        step.redirect = new URL(next);
        return step;
      }
      const url = new URL(next, svc.url);
      const res = await browser.fetch(url);
      const html = await res.text();
      // An onboarded client's error waits on a page (src/provider/error_redirect.ts): continue, as the user would.
      const held = res.status === 400 ? /<a class="continue" href="([^"]+)"/.exec(html)?.[1] : undefined;
      if (held) {
        step.held = true;
        next = held.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]!);
        continue;
      }
      if (res.status === 200 && url.pathname.startsWith('/interaction/')) {
        if (html.includes('/login"')) {
          const post = await browser.fetch(`${url.href}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username: o.username ?? 'alice' }) });
          next = post.headers.get('location');
          continue;
        }
        step.page = html;
        step.form = { action: /<form method="post" action="([^"]+)"/.exec(html)![1]!, csrf: /name="csrf" value="([^"]+)"/.exec(html)![1]! };
        assert.equal(res.headers.get('cache-control'), 'no-store');
        assert.equal(res.headers.get('x-frame-options'), 'DENY');
        // CSP form-action holds the answer's redirects too (a browser blocked them when only 'self' was allowed).
        const uri = new URL(redirectUri);
        const target: string = /^https?:$/.test(uri.protocol) ? uri.origin : uri.protocol;
        assert.equal(res.headers.get('content-security-policy'), `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${target}; frame-ancestors 'none'`);
        if (o.decision === null) return step;
        const post = await browser.fetch(step.form.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf: o.csrf ?? step.form.csrf, decision: o.decision ?? 'allow' }) });
        if (post.status !== 303 && post.status !== 302) throw Object.assign(new Error(`consent answered ${post.status}`), { status: post.status, body: await post.text() });
        next = post.headers.get('location');
        continue;
      }
      next = res.headers.get('location');
    }
    throw new Error('the authorization flow did not reach the redirect URI');
  }

  const redeem = (clientId: string, step: Step, redirectUri = NATIVE_REDIRECT, resource = CRM) =>
    postForm(`${svc.url}/token`, { grant_type: 'authorization_code', client_id: clientId, code: step.redirect!.searchParams.get('code')!, redirect_uri: redirectUri, code_verifier: step.verifier, resource });

  it('shows the client name (escaped), the client_id host, the redirect host, the tool server and tools, and the localhost warning', async () => {
    // OpenID Connect Core §11: offline_access counts only with prompt=consent (the MCP SDK sends both).
    const step = await run({ clientId: cimdId, decision: null, prompt: 'consent', scope: 'openid offline_access crm.lookup_customer crm.export_customers billing.issue_refund' });
    const page = step.page!;
    assert.match(page, /<dd class="client-name">Native &lt;Tool&gt; &amp; &quot;Co&quot;<\/dd>/);
    assert.ok(!page.includes('<Tool>'));
    assert.match(page, new RegExp(`<dd class="client-id-host">${docs.host.replace(/\./g, '\\.')}</dd>`));
    assert.match(page, /<dd class="redirect-host">127\.0\.0\.1:61234<\/dd>/);
    assert.ok(page.includes(`Tool server <code>${CRM}</code>`));
    // Only the tools asked for that the client may get: billing.issue_refund is not a CRM tool.
    assert.deepEqual([...page.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1]), ['crm.lookup_customer', 'crm.export_customers']);
    assert.match(page, /role="alert" class="warning"><strong>Warning:<\/strong> this application only redirects to this computer \(localhost\)/);
    assert.match(page, /stays connected \(refresh tokens\)/);
    assert.ok(!/<script|<link|src=/i.test(page), 'no external assets');
    assert.match(step.form!.action, /^\/interaction\/[^/]+\/consent$/);
  });

  it('a DCR web client: "dynamically registered", its redirect host, no localhost warning', async () => {
    const reg = await fetch(`${svc.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'Registered app', redirect_uris: [WEB_REDIRECT], application_type: 'web', grant_types: ['authorization_code', 'refresh_token'] }) });
    assert.equal(reg.status, 201);
    const { client_id } = (await reg.json()) as { client_id: string };
    const step = await run({ clientId: client_id, redirectUri: WEB_REDIRECT, decision: null });
    assert.match(step.page!, /<dd class="client-id-host">dynamically registered<\/dd>/);
    assert.match(step.page!, /<dd class="redirect-host">app\.example<\/dd>/);
    assert.ok(!step.page!.includes('class="warning"'));
  });

  it("the page's form-action allows 'self' and where the answer's redirects end: the redirect URI's origin, or a native app's scheme", () => {
    const policy = (uri: string) => /form-action ([^;]*);/.exec(consentPolicy(uri))![1];
    assert.equal(policy('http://127.0.0.1:6274/oauth/callback'), "'self' http://127.0.0.1:6274");
    assert.equal(policy('https://app.example/cb?x=1'), "'self' https://app.example");
    assert.equal(policy('com.example.app:/oauth2redirect'), "'self' com.example.app:");
    assert.equal(policy('cursor://anysphere.cursor-retrieval/oauth/callback'), "'self' cursor:");
    assert.equal(policy(''), "'self'");
    assert.equal(policy('not a uri; script-src *'), "'self'");
  });

  it('deny → access_denied with state and iss (RFC 9207), through the error page (RFC 9700 §4.11.2)', async () => {
    const step = await run({ clientId: webCimdId, redirectUri: WEB_REDIRECT, decision: 'deny', username: 'bob' });
    assert.equal(step.held, true);
    assert.deepEqual(Object.fromEntries(step.redirect!.searchParams), { error: 'access_denied', error_description: 'the user denied the request', state: 'st-1', iss: svc.url });
    assert.equal(step.redirect!.origin + step.redirect!.pathname, WEB_REDIRECT);
  });

  it('a form with a wrong CSRF token is refused (400), and consent is still pending', async () => {
    await assert.rejects(run({ clientId: webCimdId, redirectUri: WEB_REDIRECT, csrf: 'x'.repeat(43), username: 'bob' }), (err: { status?: number; body?: string }) => {
      assert.equal(err.status, 400);
      assert.deepEqual(JSON.parse(err.body!), { error: 'invalid_request', error_description: 'the form is invalid or expired' });
      return true;
    });
  });

  it('allow → a delegation token; remembered per (user, client, resource), in the same browser and in a new session: the same or fewer scopes skip the page, more or prompt=consent show it', async () => {
    // A public client whose https redirect assures its identity (RFC 8252 §8.6).
    const first = await run({ clientId: webCimdId, redirectUri: WEB_REDIRECT, username: 'bob' });
    assert.ok(first.page);
    const token = await redeem(webCimdId, first, WEB_REDIRECT);
    assert.equal(token.status, 200);
    const claims = decodeJwt(token.body.access_token as string);
    assert.equal(claims.sub, 'user-bob');
    assert.deepEqual(claims.act, { sub: webCimdId });
    assert.equal(claims.scope, 'crm.lookup_customer');

    // The same browser (the session's provider grant covers the request): no page.
    const same = await run({ clientId: webCimdId, redirectUri: WEB_REDIRECT, browser: first.browser });
    assert.equal(same.page, undefined);
    assert.ok(same.redirect!.searchParams.get('code'));
    // A new browser: a new login session, no provider grant; the remembered consent skips the page.
    const again = await run({ clientId: webCimdId, redirectUri: WEB_REDIRECT, username: 'bob' });
    assert.equal(again.page, undefined);
    assert.ok(again.redirect!.searchParams.get('code'));
    const subset = await run({ clientId: webCimdId, redirectUri: WEB_REDIRECT, username: 'bob', scope: 'openid crm.lookup_customer' });
    assert.equal(subset.page, undefined);
    // More than consented to: the page, for what is asked.
    const more = await run({ clientId: webCimdId, redirectUri: WEB_REDIRECT, username: 'bob', scope: 'openid crm.lookup_customer crm.export_customers', decision: null });
    assert.ok(more.page);
    // prompt=consent forces the page even for what was consented.
    const forced = await run({ clientId: webCimdId, redirectUri: WEB_REDIRECT, username: 'bob', prompt: 'consent', decision: null });
    assert.ok(forced.page);
    // Another tool server is another consent; another user has none.
    assert.ok((await run({ clientId: webCimdId, redirectUri: WEB_REDIRECT, username: 'bob', resource: BILLING, scope: 'openid billing.refund_lookup', decision: null })).page);
    assert.ok((await run({ clientId: webCimdId, redirectUri: WEB_REDIRECT, username: 'alice', decision: null })).page);
  });

  it('RFC 8252 §8.6: a public client whose redirect cannot assure its identity (https on a real host only) is never approved automatically', () => {
    for (const uri of ['http://127.0.0.1:61234/callback', 'http://[::1]:8080/cb', 'http://localhost/callback', 'http://LOCALHOST.:9/cb', 'https://localhost:8443/cb', 'https://127.0.0.2/cb', 'https://app.localhost/cb', 'com.example.app:/oauth2redirect', 'cursor://anysphere.cursor-retrieval/oauth/callback', 'http://app.example/cb', '', 'not a uri']) {
      assert.equal(clientIdentityAssured('none', uri), false, uri);
    }
    assert.equal(clientIdentityAssured('none', WEB_REDIRECT), true);
    // A client that authenticates at the token endpoint proves itself when it redeems the code.
    for (const method of ['private_key_jwt', 'client_secret_basic']) assert.equal(clientIdentityAssured(method, 'http://127.0.0.1:61234/callback'), true);
  });

  it('a public native client on loopback: after Allow, another program on another port, in the same browser or a new session, gets the page, not a code', async () => {
    const first = await run({ clientId: cimdId, username: 'bob' });
    assert.ok(first.page);
    assert.equal((await redeem(cimdId, first)).status, 200);

    // Same browser, same client_id, another loopback port: neither the session's grant nor the remembered consent decides.
    const other = 'http://127.0.0.1:40001/callback';
    const shown = await run({ clientId: cimdId, redirectUri: other, browser: first.browser, decision: null });
    assert.ok(shown.page, 'the consent page, not a code');
    assert.equal(shown.redirect, undefined);
    assert.match(shown.page!, /<dd class="redirect-host">127\.0\.0\.1:40001<\/dd>/);
    assert.match(shown.page!, /class="warning"/);
    // The user allows: a code, for that redirect.
    const allowed = await run({ clientId: cimdId, redirectUri: other, browser: first.browser });
    assert.ok(allowed.page);
    assert.ok(allowed.redirect!.searchParams.get('code'));
    assert.equal((await redeem(cimdId, allowed, other)).status, 200);
    // A new session asking for fewer scopes than remembered: the page again.
    assert.ok((await run({ clientId: cimdId, redirectUri: other, username: 'bob', scope: 'openid crm.lookup_customer', decision: null })).page);
  });

  it('a public web client registered with a loopback redirect (as MCP Inspector does): the page in the same browser; prompt=none → consent_required', async () => {
    const redirectUri = 'http://localhost:6274/oauth/callback';
    const reg = await fetch(`${svc.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'Loopback web app', redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'] }) });
    assert.equal(reg.status, 201);
    const { client_id } = (await reg.json()) as { client_id: string };
    const first = await run({ clientId: client_id, redirectUri, username: 'bob' });
    assert.ok(first.page);
    assert.ok(first.redirect!.searchParams.get('code'));
    // oidc-provider's session grant covers the request, but the policy's consent check still asks for the page.
    const again = await run({ clientId: client_id, redirectUri, browser: first.browser, decision: null });
    assert.ok(again.page);
    const silent = await run({ clientId: client_id, redirectUri, browser: first.browser, prompt: 'none' });
    assert.equal(silent.held, true);
    assert.deepEqual(Object.fromEntries(silent.redirect!.searchParams), { error: 'consent_required', error_description: 'the client requires End-User consent on every authorization', state: 'st-1', iss: svc.url });
  });

  it('a public native client on a private-use scheme: the page on every authorization', async () => {
    const first = await run({ clientId: appCimdId, redirectUri: PRIVATE_USE_REDIRECT, username: 'bob' });
    assert.ok(first.page);
    assert.equal((await redeem(appCimdId, first, PRIVATE_USE_REDIRECT)).status, 200);
    assert.ok((await run({ clientId: appCimdId, redirectUri: PRIVATE_USE_REDIRECT, browser: first.browser, decision: null })).page);
    assert.ok((await run({ clientId: appCimdId, redirectUri: PRIVATE_USE_REDIRECT, username: 'bob', decision: null })).page);
  });

  it('a private_key_jwt native client on loopback keeps its remembered consent (it proves itself at the token endpoint)', async () => {
    const first = await run({ clientId: keyedCimdId, username: 'bob' });
    assert.ok(first.page);
    const same = await run({ clientId: keyedCimdId, redirectUri: 'http://127.0.0.1:40002/callback', browser: first.browser });
    assert.equal(same.page, undefined);
    assert.ok(same.redirect!.searchParams.get('code'));
    const again = await run({ clientId: keyedCimdId, username: 'bob' });
    assert.equal(again.page, undefined);
    assert.ok(again.redirect!.searchParams.get('code'));
  });

  it('admin: lists consents, revokes one (its grants and delegation tokens end, the page returns); lists and deletes onboarded clients', async () => {
    const step = await run({ clientId: cimdId, username: 'carol-none', decision: null }).catch(() => undefined);
    assert.equal(step, undefined, 'unknown users cannot log in');
    const first = await run({ clientId: webCimdId, redirectUri: WEB_REDIRECT, username: 'alice', prompt: 'consent' });
    const token = await redeem(webCimdId, first, WEB_REDIRECT);
    assert.equal(token.status, 200);
    const jwt = token.body.access_token as string;
    assert.equal((await introspectDelegation(svc, jwt)).body.active, true);

    const list = await call(svc, 'GET', `/admin/consents?sub=user-alice&client_id=${encodeURIComponent(webCimdId)}`, { token: admin });
    assert.equal(list.status, 200);
    assert.equal(list.headers.get('cache-control'), 'no-store');
    const items = list.body.items as Array<Record<string, unknown>>;
    assert.equal(items.length, 1);
    assert.deepEqual({ ...items[0], createdAt: 0, updatedAt: 0 }, { sub: 'user-alice', client_id: webCimdId, resource: CRM, scopes: ['crm.lookup_customer', 'offline_access', 'openid'], grants: 1, createdAt: 0, updatedAt: 0 });
    // The grant is kept while its tokens may live: the login session's lifetime (8 h by default) plus the longest token
    // lifetime (the 1 h user access token here), from the consent's write; older ids are dropped on the next write.
    const raw = await svc.redis.hget(`${svc.prefix}onb:consents`, JSON.stringify(['user-alice', webCimdId, CRM]));
    const stored = JSON.parse(raw!) as { grants: [string, number][] };
    assert.equal(stored.grants.length, 1);
    assert.equal(stored.grants[0]![1] - (items[0]!.updatedAt as number), 8 * 3600 + 3600);

    const revoke = await call(svc, 'POST', '/admin/consents/revoke', { token: admin, json: { sub: 'user-alice', client_id: webCimdId, resource: CRM, reason: 'user asked' } });
    assert.equal(revoke.status, 200);
    assert.equal(revoke.body.revoked, true);
    assert.equal(revoke.body.endedGrants, 1);
    // Its delegation token and its refresh token are dead; the next authorization shows the page again.
    assert.deepEqual((await introspectDelegation(svc, jwt)).body, { active: false });
    const refreshed = await postForm(`${svc.url}/token`, { grant_type: 'refresh_token', client_id: webCimdId, refresh_token: token.body.refresh_token as string, resource: CRM });
    assert.equal(refreshed.status, 400);
    assert.equal(refreshed.body.error, 'invalid_grant');
    assert.ok((await run({ clientId: webCimdId, redirectUri: WEB_REDIRECT, username: 'alice', decision: null })).page);
    const again = await call(svc, 'POST', '/admin/consents/revoke', { token: admin, json: { sub: 'user-alice', client_id: webCimdId, resource: CRM, reason: 'again' } });
    assert.equal(again.status, 404);
    assert.deepEqual(again.body, { error: 'not_found', error_description: 'consent not found' });
    const bad = await call(svc, 'POST', '/admin/consents/revoke', { token: admin, json: { sub: 'user-alice', client_id: webCimdId, resource: 'not a uri', reason: 'x' } });
    assert.deepEqual([bad.status, bad.body], [400, { error: 'invalid_request', error_description: 'resource must be an absolute URI' }]);

    // Clients: the DCR one registered above, and the CIMD ones holding a consent.
    const clients = await call(svc, 'GET', '/admin/clients', { token: admin });
    assert.equal(clients.status, 200);
    const rows = clients.body.items as Array<Record<string, unknown>>;
    const dcr = rows.find((r) => r.kind === 'dcr' && r.client_name === 'Registered app')!;
    assert.equal(dcr.client_name, 'Registered app');
    assert.deepEqual(dcr.redirect_uris, [WEB_REDIRECT]);
    assert.deepEqual(rows.find((r) => r.client_id === cimdId), { client_id: cimdId, kind: 'cimd', host: docs.host, consents: 1 });

    // The CLI over the same API: `dts admin consents` and `dts admin clients`.
    const out: string[] = [];
    const cli = (...args: string[]) => main(['admin', ...args, '--url', svc.url], { out: (s) => out.push(s), err: (s) => out.push(s), env: { DTS_CLIENT_SECRET: svc.secrets['admin-cli']! } });
    assert.equal(await cli('consents', '--client-id', cimdId, '--json'), 0);
    assert.deepEqual((JSON.parse(out.pop()!) as { items: Array<{ sub: string }> }).items.map((c) => c.sub), ['user-bob']);
    assert.equal(await cli('clients'), 0);
    const table = out.pop()!;
    assert.match(table.split('\n')[0]!, /^CLIENT +KIND +NAME \/ HOST +EXPIRES \/ CONSENTS$/);
    assert.ok(table.includes(`${cimdId}`) && table.includes('Registered app'));

    // Deleting the CIMD client: its tokens are revoked, its consents removed (a loopback client: the page every time).
    const again2 = await run({ clientId: cimdId, username: 'bob' });
    assert.ok(again2.page);
    const live = await redeem(cimdId, again2);
    assert.equal((await introspectDelegation(svc, live.body.access_token as string)).body.active, true);
    const del = await call(svc, 'POST', `/admin/clients/${encodeURIComponent(cimdId)}/delete`, { token: admin, json: { reason: 'compromised' } });
    assert.equal(del.status, 200);
    assert.deepEqual({ ...del.body, revokedAt: 0 }, { client_id: cimdId, kind: 'cimd', deleted: false, revokedConsents: 1, revokedAt: 0 });
    assert.deepEqual((await introspectDelegation(svc, live.body.access_token as string)).body, { active: false });
    assert.deepEqual((await call(svc, 'GET', `/admin/consents?client_id=${encodeURIComponent(cimdId)}`, { token: admin })).body, { items: [] });

    // Deleting the DCR client removes its registration: it can no longer authorize.
    const delDcr = await call(svc, 'POST', `/admin/clients/${encodeURIComponent(String(dcr.client_id))}/delete`, { token: admin, json: { reason: 'unused' } });
    assert.equal(delDcr.status, 200);
    assert.equal(delDcr.body.deleted, true);
    assert.equal((await call(svc, 'GET', '/admin/clients', { token: admin })).body.items instanceof Array, true);
    assert.ok(!((await call(svc, 'GET', '/admin/clients', { token: admin })).body.items as Array<Record<string, unknown>>).some((r) => r.client_id === dcr.client_id));
    const gone = await fetch(`${svc.url}/auth?client_id=${dcr.client_id}&response_type=code&redirect_uri=${encodeURIComponent(WEB_REDIRECT)}&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256`, { redirect: 'manual' });
    assert.equal(gone.status, 400);
    assert.equal(((await gone.json()) as { error: string }).error, 'invalid_client');

    // A configured client is refused; an unknown one is 404.
    assert.deepEqual((await call(svc, 'POST', '/admin/clients/agent/delete', { token: admin, json: { reason: 'x' } })).body, { error: 'invalid_request', error_description: 'configured clients are changed in the configuration' });
    assert.equal((await call(svc, 'POST', '/admin/clients/dcr_unknown/delete', { token: admin, json: { reason: 'x' } })).status, 404);
  });
});
