// RFC 9700 §4.11.2 (the authorization server as open redirector): for clients onboarded by Dynamic Client Registration
// or Client ID Metadata Document, authorization errors (a malformed request, prompt=none, the user's Deny) are a 400
// page naming the destination with a link or form carrying exactly what oidc-provider would have sent; configured
// clients keep the immediate redirect; codes are redirected as before.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startService, CRM, REDIRECT, type TestService } from '../helpers/service.js';
import { Browser } from '../helpers/browser.js';
import { startDocServer, type DocServer } from '../../tools/https_docs.js';
import { destinationOf, errorRedirectPage, errorResponse } from '../../src/provider/error_redirect.js';

const WEB_REDIRECT = 'https://app.example/callback';
const STATE = `st<"&'>1`;
const BAD_SCOPE = 'openid "x"';

/** The HTML entities escapeHtml writes, back to text (to read an attribute's value). */
const unescape = (s: string) => s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]!);

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

describe('authorization errors of onboarded clients (RFC 9700 §4.11.2)', () => {
  let docs: DocServer;
  let svc: TestService;
  let dcrId: string;
  let cimdId: string;

  before(async () => {
    docs = await startDocServer();
    svc = await startService({
      extra: () => ({
        onboarding: {
          clientIdMetadataDocument: { enabled: true, allowedHosts: [docs.host], caFile: docs.caFile },
          registration: { enabled: true },
        },
        onboardedClients: [{ clientIdHosts: [docs.host], dynamicallyRegistered: true, toolServers: [{ resource: CRM, scopes: ['crm.lookup_customer'] }] }],
      }),
    });
    const reg = await fetch(`${svc.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'Registered', redirect_uris: [WEB_REDIRECT], application_type: 'web', grant_types: ['authorization_code', 'refresh_token'] }) });
    assert.equal(reg.status, 201);
    dcrId = ((await reg.json()) as { client_id: string }).client_id;
    cimdId = `${docs.origin}/web.json`;
    docs.set('/web.json', { client_id: cimdId, client_name: 'Web client', redirect_uris: [WEB_REDIRECT], token_endpoint_auth_method: 'none', application_type: 'web', grant_types: ['authorization_code', 'refresh_token'] });
  });
  after(async () => {
    await svc?.stop();
    await docs?.close();
  });

  const authUrl = (clientId: string, redirectUri: string, o: Record<string, string | undefined> = {}) => {
    const verifier = randomBytes(32).toString('base64url');
    const params: Record<string, string | undefined> = {
      client_id: clientId, response_type: 'code', redirect_uri: redirectUri, scope: 'openid crm.lookup_customer', state: STATE, resource: CRM,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', ...o,
    };
    const url = new URL(`${svc.url}/auth`);
    url.search = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined)).toString();
    return url.href;
  };

  const get = async (url: string, browser = new Browser(svc)): Promise<Answer> => {
    const res = await browser.fetch(url);
    return { status: res.status, headers: res.headers, body: await res.text() };
  };

  /** Through login (alice) and, for an onboarded client, the consent page answered `decision`; the last answer. */
  async function flow(url: string, decision: 'allow' | 'deny'): Promise<Answer> {
    const browser = new Browser(svc);
    let next: string = url;
    for (let hops = 0; hops < 12; hops++) {
      const target = new URL(next, svc.url);
      if (target.origin !== svc.url) throw new Error(`left the service for ${target.origin}`);
      const res = await browser.fetch(target);
      const body = await res.text();
      const location = res.headers.get('location');
      if (res.status === 200 && target.pathname.startsWith('/interaction/')) {
        const form = (action: string, fields: Record<string, string>) =>
          browser.fetch(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
        const post = body.includes('/login"')
          ? await form(`${target.href}/login`, { username: 'alice' })
          : await form(/<form method="post" action="([^"]+)"/.exec(body)![1]!, { csrf: /name="csrf" value="([^"]+)"/.exec(body)![1]!, decision });
        next = post.headers.get('location')!;
        continue;
      }
      if (location && new URL(location, svc.url).origin === svc.url) {
        next = location;
        continue;
      }
      return { status: res.status, headers: res.headers, body };
    }
    throw new Error('the flow did not end');
  }

  /** The page's headers and its link's (unescaped) URL. */
  function interstitial(a: Answer, destination: string): string {
    assert.equal(a.status, 400);
    assert.equal(a.headers.get('location'), null);
    assert.match(a.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(a.headers.get('cache-control'), 'no-store');
    assert.equal(a.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(a.headers.get('x-frame-options'), 'DENY');
    assert.equal(a.headers.get('content-security-policy'), "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
    assert.ok(!/<script|<meta http-equiv="refresh"/i.test(a.body), 'no script, no automatic refresh');
    assert.match(a.body, new RegExp(`<strong class="destination">${destination.replace(/\./g, '\\.')}</strong>`));
    const link = /<a class="continue" href="([^"]*)" rel="noreferrer">Continue to ([^<]*)<\/a>/.exec(a.body);
    assert.ok(link, 'a link to continue');
    assert.equal(link[2], destination);
    return unescape(link[1]!);
  }

  it('a configured client keeps the immediate 303 with error, state and iss', async () => {
    const res = await get(authUrl('public-agent', REDIRECT, { scope: BAD_SCOPE }));
    assert.equal(res.status, 303);
    const location = new URL(res.headers.get('location')!);
    assert.equal(location.origin + location.pathname, REDIRECT);
    assert.deepEqual(Object.fromEntries(location.searchParams), { error: 'invalid_scope', error_description: 'scope contains invalid characters', state: STATE, iss: svc.url });
  });

  it('DCR client, invalid scope: the page (escaped state), its link exactly the redirect a configured client gets', async () => {
    const trusted = new URL((await get(authUrl('public-agent', REDIRECT, { scope: BAD_SCOPE }))).headers.get('location')!);
    const res = await get(authUrl(dcrId, WEB_REDIRECT, { scope: BAD_SCOPE }));
    const link = interstitial(res, 'app.example');
    assert.equal(link, `${WEB_REDIRECT}${trusted.search}`);
    assert.deepEqual(Object.fromEntries(new URL(link).searchParams), { error: 'invalid_scope', error_description: 'scope contains invalid characters', state: STATE, iss: svc.url });
    assert.match(res.body, /<code class="error">invalid_scope<\/code>/);
    assert.ok(!res.body.includes(STATE), 'the state is HTML-escaped');
  });

  it('CIMD client, invalid request (no PKCE), response_mode=fragment: the page, its link the fragment redirect', async () => {
    const trusted = new URL((await get(authUrl('public-agent', REDIRECT, { code_challenge: undefined, code_challenge_method: undefined, response_mode: 'fragment' }))).headers.get('location')!);
    assert.equal(new URLSearchParams(trusted.hash.slice(1)).get('error'), 'invalid_request');
    const res = await get(authUrl(cimdId, WEB_REDIRECT, { code_challenge: undefined, code_challenge_method: undefined, response_mode: 'fragment' }));
    const link = interstitial(res, 'app.example');
    assert.equal(link, `${WEB_REDIRECT}${trusted.hash}`);
    assert.deepEqual(Object.fromEntries(new URLSearchParams(new URL(link).hash.slice(1))), {
      error: 'invalid_request', error_description: 'Authorization Server policy requires PKCE to be used for this request', state: STATE, iss: svc.url,
    });
  });

  it('response_mode=form_post: a form (no script) posting exactly the fields of oidc-provider\'s own form_post page', async () => {
    const fields = (html: string) => Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)].map((m) => [m[1]!, unescape(m[2]!)]));
    const trusted = await get(authUrl('public-agent', REDIRECT, { scope: BAD_SCOPE, response_mode: 'form_post' }));
    assert.match(trusted.body, /<script/, "oidc-provider's page submits itself");
    const res = await get(authUrl(dcrId, WEB_REDIRECT, { scope: BAD_SCOPE, response_mode: 'form_post' }));
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    // CSP form-action: the form may post to the redirect URI's origin, nowhere else.
    assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https://app.example; frame-ancestors 'none'");
    assert.ok(!/<script/i.test(res.body));
    assert.match(res.body, new RegExp(`<form method="post" action="${WEB_REDIRECT.replace(/\./g, '\\.')}">`));
    assert.match(res.body, /<button class="continue">Continue to app\.example<\/button>/);
    assert.deepEqual(fields(res.body), fields(trusted.body));
    assert.deepEqual(fields(res.body), { error: 'invalid_scope', error_description: 'scope contains invalid characters', state: STATE, iss: svc.url });
  });

  it('prompt=none without a session (a silent request any site can trigger): the page, with login_required', async () => {
    const res = await get(authUrl(dcrId, WEB_REDIRECT, { prompt: 'none' }));
    const link = new URL(interstitial(res, 'app.example'));
    assert.deepEqual(Object.fromEntries(link.searchParams), { error: 'login_required', error_description: 'End-User authentication is required', state: STATE, iss: svc.url });
  });

  it('after login, the user denies on the consent page: the page too (RFC 9700 §4.11.2, attack 2), with access_denied', async () => {
    const res = await flow(authUrl(dcrId, WEB_REDIRECT), 'deny');
    const link = new URL(interstitial(res, 'app.example'));
    assert.equal(link.origin + link.pathname, WEB_REDIRECT);
    assert.deepEqual(Object.fromEntries(link.searchParams), { error: 'access_denied', error_description: 'the user denied the request', state: STATE, iss: svc.url });
  });

  it('a successful authorization of an onboarded client still redirects with the code (DCR and CIMD)', async () => {
    for (const clientId of [dcrId, cimdId]) {
      const res = await flow(authUrl(clientId, WEB_REDIRECT), 'allow');
      assert.equal(res.status, 303, clientId);
      const location = new URL(res.headers.get('location')!);
      assert.equal(location.origin + location.pathname, WEB_REDIRECT);
      assert.ok(location.searchParams.get('code'));
      assert.equal(location.searchParams.get('state'), STATE);
      assert.equal(location.searchParams.get('iss'), svc.url);
    }
  });

  it('an unregistered redirect URI is still refused without any redirect or page (RFC 6749 §4.1.2.1)', async () => {
    const res = await get(authUrl(dcrId, 'https://evil.example/cb', { scope: BAD_SCOPE }));
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    assert.equal(JSON.parse(res.body).error, 'invalid_redirect_uri');
  });
});

describe('the error page', () => {
  it('escapes what it shows and links only to the given redirect', () => {
    const page = errorRedirectPage({ error: 'x"><script>', destination: 'a<b>', next: { method: 'get', url: 'https://c.example/cb?a="<>' } });
    assert.ok(!page.includes('<script>') && !page.includes('a<b>'));
    assert.match(page, /href="https:\/\/c\.example\/cb\?a=&quot;&lt;&gt;"/);
  });

  it('without a deliverable answer, no link and no form', () => {
    const page = errorRedirectPage({ error: 'invalid_request', destination: 'app.example', next: undefined });
    assert.ok(!page.includes('<a ') && !page.includes('<form'));
    assert.match(page, /cannot be delivered from this page/);
  });

  it('names an https destination by host[:port], a private-use scheme by its scheme', () => {
    assert.equal(destinationOf('https://app.example:8443/cb?x=1'), 'app.example:8443');
    assert.equal(destinationOf('http://127.0.0.1:6274/oauth/callback'), '127.0.0.1:6274');
    assert.equal(destinationOf('com.example.app:/oauth2redirect'), 'com.example.app:');
  });

  it("an error oidc-provider does not expose becomes its fixed server_error, with iss; undefined members are left out", () => {
    assert.deepEqual(errorResponse(new Error('boom'), 's', 'https://as.example'), { error: 'server_error', error_description: 'oops! something went wrong', state: 's', iss: 'https://as.example' });
    assert.deepEqual(errorResponse({ expose: true, message: 'invalid_scope', error_description: 'd', scope: 'x' }, undefined, 'https://as.example'), { error: 'invalid_scope', error_description: 'd', scope: 'x', iss: 'https://as.example' });
  });
});
