// RP-initiated logout (/session/end) for onboarded clients: anyone can register a client (DCR) or host a document
// (CIMD) naming a phishing page as its post-logout redirect, so such clients keep no post_logout_redirect_uris and
// /session/end never redirects for them (RFC 9700 §4.11.2, open redirector). Configured clients are unchanged.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startService, type TestService } from '../helpers/service.js';
import { Browser } from '../helpers/browser.js';
import { startDocServer, type DocServer } from '../../tools/https_docs.js';

const PHISH = 'https://evil.example/phish';
const NOT_REGISTERED = { error: 'invalid_request', error_description: 'post_logout_redirect_uri not registered' };

describe('RP-initiated logout of onboarded clients: no post-logout redirect', () => {
  let docs: DocServer;
  let svc: TestService;
  before(async () => {
    docs = await startDocServer();
    svc = await startService({
      extra: () => ({ onboarding: { registration: { enabled: true }, clientIdMetadataDocument: { enabled: true, allowedHosts: [docs.host], caFile: docs.caFile } } }),
    });
  });
  after(async () => {
    await svc?.stop();
    await docs?.close();
  });

  /** A browser without a session opens /session/end: oidc-provider would answer its self-submitting logout form. */
  const endSession = async (query: Record<string, string>) => {
    const res = await new Browser(svc).fetch(`/session/end?${new URLSearchParams(query)}`);
    const text = await res.text();
    return { status: res.status, location: res.headers.get('location'), type: res.headers.get('content-type'), text };
  };
  /** Follows oidc-provider's self-submitting logout form (as a browser does, without a click) to its answer. */
  const submitLogoutForm = async (browser: Browser, html: string) => {
    const action = /action="([^"]+)"/.exec(html)?.[1];
    assert.ok(action, html);
    const fields = new URLSearchParams([...html.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!] as [string, string]));
    return browser.fetch(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: fields.toString() });
  };
  const assertNotRegistered = (res: Awaited<ReturnType<typeof endSession>>) => {
    assert.equal(res.status, 400, res.text);
    assert.equal(res.location, null);
    assert.match(res.type ?? '', /^application\/json/);
    assert.deepEqual(JSON.parse(res.text), NOT_REGISTERED);
  };

  it('DCR: post_logout_redirect_uris is dropped at registration (the response names none), and /session/end does not redirect to it', async () => {
    const reg = await fetch(`${svc.url}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Evil', redirect_uris: ['https://evil.example/cb'], post_logout_redirect_uris: [PHISH], application_type: 'web', grant_types: ['authorization_code'] }),
    });
    const body = (await reg.json()) as Record<string, unknown>;
    assert.equal(reg.status, 201, JSON.stringify(body));
    // RFC 7591 §3.2.1: the response holds the metadata as registered: oidc-provider's default, none.
    assert.deepEqual(body.post_logout_redirect_uris, []);
    const clientId = String(body.client_id);
    assertNotRegistered(await endSession({ client_id: clientId, post_logout_redirect_uri: PHISH, state: 'x' }));
  });

  it('DCR: a client stored with post_logout_redirect_uris (by an earlier version) is read without them', async () => {
    const clientId = 'dcr_storedBeforeTheFix0000';
    await svc.service.stores.adapterFor('Client').upsert(
      clientId,
      { client_id: clientId, client_id_issued_at: Math.floor(Date.now() / 1000), client_name: 'Evil', redirect_uris: ['https://evil.example/cb'], post_logout_redirect_uris: [PHISH], application_type: 'web', grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' },
      600,
    );
    assertNotRegistered(await endSession({ client_id: clientId, post_logout_redirect_uri: PHISH, state: 'x' }));
  });

  it('CIMD: post_logout_redirect_uris in a document is dropped, and /session/end does not redirect to it', async () => {
    const clientId = `${docs.origin}/evil.json`;
    docs.set('/evil.json', { client_id: clientId, client_name: 'Evil', redirect_uris: ['https://evil.example/cb'], post_logout_redirect_uris: [PHISH], token_endpoint_auth_method: 'none', application_type: 'web' });
    assertNotRegistered(await endSession({ client_id: clientId, post_logout_redirect_uri: PHISH }));
    assert.equal(docs.hits('/evil.json'), 1);
  });

  it('an onboarded client without a post_logout_redirect_uri: logged out onto the provider\'s own page, not the client', async () => {
    const clientId = `${docs.origin}/plain.json`;
    docs.set('/plain.json', { client_id: clientId, client_name: 'Plain', redirect_uris: ['https://plain.example/cb'], token_endpoint_auth_method: 'none', application_type: 'web' });
    const browser = new Browser(svc);
    const form = await browser.fetch(`/session/end?${new URLSearchParams({ client_id: clientId })}`);
    assert.equal(form.status, 200);
    const done = await submitLogoutForm(browser, await form.text());
    await done.text();
    assert.equal(done.status, 303);
    assert.equal(done.headers.get('location'), `${svc.url}/session/end/success`);
  });

  it('a configured client is unchanged: its logout ends on the success page; a post_logout_redirect_uri it never registered is refused as before', async () => {
    const browser = new Browser(svc);
    const form = await browser.fetch('/session/end?client_id=agent&state=s');
    assert.equal(form.status, 200);
    const done = await submitLogoutForm(browser, await form.text());
    await done.text();
    assert.equal(done.status, 303);
    assert.equal(done.headers.get('location'), `${svc.url}/session/end/success`);
    const success = await browser.fetch(done.headers.get('location')!);
    assert.equal(success.status, 200);
    await success.text();
    assertNotRegistered(await endSession({ client_id: 'agent', post_logout_redirect_uri: PHISH }));
  });
});
