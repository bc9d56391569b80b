// Client ID Metadata Documents (SPEC §13, OB-02): what the service fetches, from where, and which documents it accepts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { startService, EXCHANGE, type TestService } from '../helpers/service.js';
import { postForm } from '../helpers/http.js';
import { startDocServer, type DocServer } from '../../tools/https_docs.js';
import { approveAuthorization } from '../../tools/mcp_oauth_client.js';
import { cimdHooks } from '../../src/onboarding/cimd.js';
import { MemoryOnboardingStore } from '../../src/stores/memory/onboarding_store.js';
import type { OnboardingConfig } from '../../src/config/schema.js';

type CimdConfig = OnboardingConfig['clientIdMetadataDocument'];

const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

describe('client_id metadata documents', () => {
  let docs: DocServer;
  let denied: DocServer;
  let svc: TestService;
  before(async () => {
    docs = await startDocServer();
    denied = await startDocServer();
    svc = await startService({
      extra: () => ({
        onboarding: {
          clientIdMetadataDocument: { enabled: true, allowedHosts: [docs.host], deniedHosts: [denied.host, `localhost:${new URL(denied.origin).port}`], caFile: docs.caFile, maxDocumentBytes: 1024 },
        },
      }),
    });
  });
  after(async () => {
    await svc?.stop();
    await docs?.close();
    await denied?.close();
  });

  /** Serves a document at `path` whose client_id is its own URL unless `doc` says otherwise. */
  const serve = (server: DocServer, path: string, doc: Record<string, unknown> = {}) => {
    const id = `${server.origin}${path}`;
    server.set(path, { client_id: id, client_name: 'Test MCP client', redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none', application_type: 'native', ...doc });
    return id;
  };
  const authorize = async (clientId: string, redirectUri = 'http://127.0.0.1:61234/callback') => {
    const u = new URL(`${svc.url}/auth`);
    u.search = new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: redirectUri, scope: 'openid', code_challenge: CHALLENGE, code_challenge_method: 'S256', state: 's' }).toString();
    const res = await fetch(u, { redirect: 'manual' });
    const text = await res.text();
    return { status: res.status, location: res.headers.get('location'), body: text ? (JSON.parse(text.startsWith('{') ? text : '{}') as Record<string, unknown>) : {} };
  };

  it('discovery says client_id_metadata_document_supported, iss in the response, S256 only, on both well-known paths', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const md = (await (await fetch(`${svc.url}${path}`)).json()) as Record<string, unknown>;
      assert.equal(md.client_id_metadata_document_supported, true, path);
      assert.equal(md.authorization_response_iss_parameter_supported, true, path);
      assert.deepEqual(md.code_challenge_methods_supported, ['S256'], path);
      assert.equal(md.registration_endpoint, undefined, `${path}: registration is off unless enabled`);
    }
  });

  it('accepts a native client from an allow-listed loopback host, on any loopback port (RFC 8252 §7.3), scope member dropped', async () => {
    const id = serve(docs, '/native.json', { scope: 'crm.lookup_customer' });
    const res = await authorize(id, 'http://127.0.0.1:61234/callback');
    assert.equal(res.status, 303);
    assert.match(res.location ?? '', /^\/interaction\//);
    assert.equal(docs.hits('/native.json'), 1);
    // Cached: a second authorization does not fetch again.
    assert.equal((await authorize(id, 'http://127.0.0.1:40000/callback')).status, 303);
    assert.equal(docs.hits('/native.json'), 1);
  });

  it('refuses a web client a redirect on another port than registered', async () => {
    const id = serve(docs, '/web.json', { application_type: 'web', redirect_uris: ['http://127.0.0.1/callback'] });
    const res = await authorize(id, 'http://127.0.0.1:61234/callback');
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'invalid_redirect_uri', error_description: "redirect_uri did not match any of the client's registered redirect_uris", state: 's', iss: svc.url });
  });

  it('refuses a redirect URI that is not in the document', async () => {
    const id = serve(docs, '/other-redirect.json');
    const res = await authorize(id, 'http://127.0.0.1:61234/elsewhere');
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_redirect_uri');
  });

  it("refuses a document whose client_id is not its URL", async () => {
    serve(docs, '/mismatch.json', { client_id: `${docs.origin}/someone-else.json` });
    const res = await authorize(`${docs.origin}/mismatch.json`);
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'invalid_client_metadata', error_description: 'client_id metadata document client_id does not match the expected value', state: 's', iss: svc.url });
  });

  it('never fetches from a denied host', async () => {
    const id = serve(denied, '/denied.json');
    const res = await authorize(id);
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'invalid_client', error_description: 'client_id metadata document fetch not allowed', state: 's', iss: svc.url });
    assert.equal(denied.hits('/denied.json'), 0);
    // The same host as a fully qualified name (a trailing dot) or in capitals is the same denied host.
    for (const alias of [`https://localhost.:${new URL(denied.origin).port}/denied.json`, `https://LOCALHOST.:${new URL(denied.origin).port}/denied.json`]) {
      const again = await authorize(alias);
      assert.deepEqual([again.status, again.body], [400, { error: 'invalid_client', error_description: 'client_id metadata document fetch not allowed', state: 's', iss: svc.url }], alias);
    }
    assert.equal(denied.hits('/denied.json'), 0);
  });

  it('refuses a document over maxDocumentBytes', async () => {
    const id = serve(docs, '/big.json', { client_name: 'x'.repeat(2000) });
    const res = await authorize(id);
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_client');
  });

  it('refuses shared-secret authentication in a document', async () => {
    const id = serve(docs, '/secret.json', { token_endpoint_auth_method: 'client_secret_basic' });
    const res = await authorize(id);
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'invalid_client_metadata', error_description: 'client_id metadata document must not use shared-secret token endpoint authentication methods', state: 's', iss: svc.url });
  });

  it('refuses a document asking for token exchange or client_credentials', async () => {
    for (const grant of [EXCHANGE, 'client_credentials']) {
      const path = `/grant-${grant.length}.json`;
      const id = serve(docs, path, { grant_types: ['authorization_code', grant] });
      const res = await authorize(id);
      assert.equal(res.status, 400, grant);
      assert.equal(res.body.error, 'invalid_client', grant);
    }
  });

  it('a CIMD client gets unauthorized_client for token exchange and client_credentials (admin scope) at the token endpoint', async () => {
    const id = serve(docs, '/at-token.json');
    const ex = await postForm(`${svc.url}/token`, { client_id: id, grant_type: EXCHANGE, subject_token: 'x', subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', resource: 'http://tools.test/crm/mcp' });
    assert.equal(ex.status, 400, JSON.stringify(ex.body));
    assert.deepEqual(ex.body, { error: 'unauthorized_client', error_description: 'the client may not use this grant type' });
    const cc = await postForm(`${svc.url}/token`, { client_id: id, grant_type: 'client_credentials', scope: 'admin', resource: `${svc.url}/admin` });
    assert.equal(cc.status, 400);
    assert.deepEqual(cc.body, { error: 'unauthorized_client', error_description: 'the client may not use this grant type' });
  });

  it('a host neither allowed nor denied gets no allow-list exemption (SSRF-guarded fetch, public CAs only): a loopback document is refused, never served', async () => {
    const other = await startDocServer();
    try {
      const id = serve(other, '/unlisted.json');
      const res = await authorize(id);
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { error: 'invalid_client', error_description: 'client_id metadata document fetch failed', state: 's', iss: svc.url });
      assert.equal(other.hits('/unlisted.json'), 0);
    } finally {
      await other.close();
    }
  });

  it('a private_key_jwt client from its document: authorization code with its client assertion; a foreign key is refused', async () => {
    const key = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(key.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const id = serve(docs, '/pkjwt.json', { token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [jwk] }, grant_types: ['authorization_code', 'refresh_token'] });
    const redirectUri = 'http://127.0.0.1:61235/callback';
    const verifier = randomBytes(32).toString('base64url');
    const u = new URL(`${svc.url}/auth`);
    u.search = new URLSearchParams({ client_id: id, response_type: 'code', redirect_uri: redirectUri, scope: 'openid', code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', state: 'pk' }).toString();
    const { callback } = await approveAuthorization(u, { redirectUri, username: 'alice' });
    const code = callback.searchParams.get('code');
    assert.ok(code, callback.href);
    // RFC 7523 §3: iss = sub = the client_id, aud = this server, a fresh jti, short exp.
    const assertion = (signer: CryptoKey) =>
      new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(id).setSubject(id).setAudience(svc.url).setJti(randomBytes(12).toString('base64url')).setIssuedAt().setExpirationTime('60s').sign(signer);
    const form = { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, client_id: id, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' };
    const foreign = await generateKeyPair('ES256');
    const refused = await postForm(`${svc.url}/token`, { ...form, client_assertion: await assertion(foreign.privateKey) });
    assert.equal(refused.status, 401, JSON.stringify(refused.body));
    assert.equal(refused.body.error, 'invalid_client');
    const res = await postForm(`${svc.url}/token`, { ...form, client_assertion: await assertion(key.privateKey) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(typeof res.body.access_token, 'string');
  });
});

describe('client_id metadata documents: the per-host fetch limit', () => {
  let docs: DocServer;
  let svc: TestService;
  before(async () => {
    docs = await startDocServer();
    svc = await startService({
      extra: () => ({ onboarding: { clientIdMetadataDocument: { enabled: true, allowedHosts: [docs.host], caFile: docs.caFile, fetchesPerMinutePerHost: 2 } } }),
    });
  });
  after(async () => {
    await svc?.stop();
    await docs?.close();
  });

  it('more than fetchesPerMinutePerHost fetches from one host in a minute: refused without fetching', async () => {
    const statuses: number[] = [];
    for (const n of [1, 2, 3]) {
      const path = `/limit-${n}.json`;
      const id = `${docs.origin}${path}`;
      docs.set(path, { client_id: id, client_name: 'Limited', redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none', application_type: 'native' });
      const u = new URL(`${svc.url}/auth`);
      u.search = new URLSearchParams({ client_id: id, response_type: 'code', redirect_uri: 'http://127.0.0.1:61236/callback', scope: 'openid', code_challenge: CHALLENGE, code_challenge_method: 'S256', state: 'l' }).toString();
      const res = await fetch(u, { redirect: 'manual' });
      statuses.push(res.status);
      if (n === 3) {
        assert.deepEqual(await res.json(), { error: 'invalid_client', error_description: 'client_id metadata document fetch not allowed', state: 'l', iss: svc.url });
      } else {
        await res.text();
      }
    }
    assert.deepEqual(statuses, [303, 303, 400]);
    assert.deepEqual([1, 2, 3].map((n) => docs.hits(`/limit-${n}.json`)), [1, 1, 0]);
  });
});

describe('client_id metadata documents: made-up URLs on a host never lock out a document accepted before', () => {
  let docs: DocServer;
  let first: TestService & { keysDir: string };
  let fresh: TestService | undefined;
  const extra = () => ({ onboarding: { clientIdMetadataDocument: { enabled: true, allowedHosts: [docs.host], caFile: docs.caFile, fetchesPerMinutePerHost: 2 } } });
  before(async () => {
    docs = await startDocServer();
    first = await startService({ extra });
  });
  after(async () => {
    await fresh?.stop();
    await first?.stop();
    await docs?.close();
  });

  const serve = (path: string, doc: Record<string, unknown> = {}) => {
    const id = `${docs.origin}${path}`;
    docs.set(path, { client_id: id, client_name: 'Popular MCP client', redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none', application_type: 'native', ...doc });
    return id;
  };
  const authorize = async (svc: TestService, clientId: string) => {
    const u = new URL(`${svc.url}/auth`);
    u.search = new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: 'http://127.0.0.1:61237/callback', scope: 'openid', code_challenge: CHALLENGE, code_challenge_method: 'S256', state: 'k' }).toString();
    const res = await fetch(u, { redirect: 'manual' });
    const text = await res.text();
    return { status: res.status, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  const notAllowed = { error: 'invalid_client', error_description: 'client_id metadata document fetch not allowed', state: 'k' };

  it("a flood of made-up client_id URLs exhausts the host's budget, yet a fresh replica (empty cache) still fetches the known document; new and refused URLs are refused unfetched", async () => {
    const known = serve('/popular.json');
    const refused = serve('/asks-too-much.json', { grant_types: ['authorization_code', 'client_credentials'] });
    assert.equal((await authorize(first, known)).status, 303);
    // Fetched, then refused by the client rules (allowClient): it does not become known.
    assert.deepEqual(await authorize(first, refused), { status: 400, body: { error: 'invalid_client', error_description: 'client is not allowed', state: 'k', iss: first.url } });
    // The attacker's made-up URLs on the same host: the host's budget (2 a minute, both spent above) refuses them.
    for (let i = 0; i < 5; i++) assert.deepEqual(await authorize(first, `${docs.origin}/made-up-${i}.json`), { status: 400, body: { ...notAllowed, iss: first.url } });
    assert.deepEqual([docs.hits('/popular.json'), docs.hits('/asks-too-much.json'), docs.hits('/made-up-0.json')], [1, 1, 0]);

    // Another replica sharing the store, its cache empty (as after the flood evicted the document): the known document
    // is fetched on its own budget; a new URL on the host and the refused document are still on the host's, spent.
    fresh = await startService({ extra, share: { keysDir: first.keysDir, prefix: first.prefix, secrets: first.secrets } });
    assert.equal((await authorize(fresh, known)).status, 303);
    assert.equal(docs.hits('/popular.json'), 2);
    const unknown = serve('/new-client.json');
    assert.deepEqual(await authorize(fresh, unknown), { status: 400, body: { ...notAllowed, iss: fresh.url } });
    assert.deepEqual(await authorize(fresh, refused), { status: 400, body: { ...notAllowed, iss: fresh.url } });
    assert.deepEqual([docs.hits('/new-client.json'), docs.hits('/asks-too-much.json')], [0, 1]);
  });
});

describe('client_id metadata documents: the budgets and the known documents (cimdHooks)', () => {
  const config = (o: Partial<CimdConfig> = {}): CimdConfig => ({
    enabled: true, allowedHosts: [], onlyAllowedHosts: false, deniedHosts: [], maxDocumentBytes: 5120, fetchTimeoutMs: 2500, cacheSeconds: { min: 300, max: 86400 }, fetchesPerMinutePerHost: 3, maxKnownDocuments: 10_000, ...o,
  });
  const document = (id: string) => ({ client_id: id, client_name: 'x', redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none', application_type: 'native' });
  /** Unlisted hosts are fetched with globalThis.fetch: every document URL serves its own document; `fetched` records each fetch. */
  const fetched: string[] = [];
  const realFetch = globalThis.fetch;
  before(() => {
    globalThis.fetch = (async (input: string | URL) => {
      fetched.push(String(input));
      return new Response(JSON.stringify(document(String(input))), { status: 200 });
    }) as typeof fetch;
  });
  after(() => {
    globalThis.fetch = realFetch;
  });
  /** One cache miss as oidc-provider runs it (allowFetch, fetch, allowClient); what became of the client. */
  const resolve = async (h: ReturnType<typeof cimdHooks>, id: string) => {
    if (!(await h.allowFetch(undefined, id))) return 'not_fetched';
    const props = JSON.parse(await (await h.fetch(id, { method: 'GET' })).text()) as Record<string, unknown>;
    return (await h.allowClient(undefined, { clientId: id, metadata: () => props })) ? 'accepted' : 'refused';
  };
  const verdicts = async (h: ReturnType<typeof cimdHooks>, urls: string[]) => {
    const out: boolean[] = [];
    for (const url of urls) out.push(await h.allowFetch(undefined, url));
    return out;
  };

  it("a host's known documents share ONE budget of fetchesPerMinutePerHost, apart from its budget for URLs not known", async () => {
    const store = new MemoryOnboardingStore();
    const h = cimdHooks({ config: config(), store });
    const known = Array.from({ length: 5 }, (_, i) => `https://popular.example/client-${i}.json`);
    for (const url of known) await store.rememberDocument(url, 60, 100);
    assert.deepEqual(await verdicts(h, known), [true, true, true, false, false]);
    assert.deepEqual(await verdicts(h, ['https://popular.example/new-1.json', 'https://popular.example/new-2.json', 'https://popular.example/new-3.json', 'https://popular.example/new-4.json']), [true, true, true, false]);
    // Another host's budgets are its own.
    assert.deepEqual(await verdicts(h, ['https://other.example/client.json']), [true]);
    // A denied host stays denied, known or not.
    assert.equal(await cimdHooks({ config: config({ deniedHosts: ['popular.example'] }), store }).allowFetch(undefined, known[0]!), false);
  });

  it('however many of its documents are accepted, a host is fetched at most twice fetchesPerMinutePerHost in a minute', async () => {
    let now = 1_700_000_000_000;
    const store = new MemoryOnboardingStore(() => now);
    const h = cimdHooks({ config: config(), store });
    // Twenty minutes of the host's whole budget spent on new documents, which are accepted and so become known.
    const accepted: string[] = [];
    for (let minute = 0; minute < 20; minute++) {
      for (let i = 0; i < 5; i++) {
        const id = `https://attacker.example/doc-${minute}-${i}.json`;
        if ((await resolve(h, id)) === 'accepted') accepted.push(id);
      }
      now += 61_000;
    }
    assert.equal(accepted.length, 60);
    // One minute: every known document five times (as after each was evicted from oidc-provider's cache), then new URLs.
    fetched.length = 0;
    for (const id of accepted) for (let k = 0; k < 5; k++) await resolve(h, id);
    for (let i = 0; i < 10; i++) await resolve(h, `https://attacker.example/new-${i}.json`);
    assert.equal(fetched.filter((u) => new URL(u).host === 'attacker.example').length, 6);
  });

  it('at most maxKnownDocuments are known: one accepted beyond them is used but not known (reported), and stays on the host budget', async () => {
    const store = new MemoryOnboardingStore();
    const notKnown: string[] = [];
    const h = cimdHooks({ config: config({ maxKnownDocuments: 2 }), store, onNotKnown: (id) => notKnown.push(id) });
    const [a, b, c] = ['https://a.example/c.json', 'https://b.example/c.json', 'https://c.example/c.json'];
    for (const id of [a, b, c]) assert.equal(await resolve(h, id), 'accepted');
    assert.deepEqual([await store.knownDocument(a), await store.knownDocument(b), await store.knownDocument(c)], [true, true, false]);
    assert.deepEqual(notKnown, [c]);
    // A known document accepted again while the set is full stays known (its time starts again).
    assert.equal(await resolve(h, a), 'accepted');
    assert.deepEqual(notKnown, [c]);
    // c is on its host's budget for URLs not known, one of 3 spent by its first fetch (a known URL would have 3 more).
    assert.deepEqual(await verdicts(h, [c, c, c]), [true, true, false]);
  });

  it("stays known an hour past the longest cache lifetime: a document cached for cacheSeconds.max is fetched again while known", async () => {
    let now = 1_700_000_000_000;
    const store = new MemoryOnboardingStore(() => now);
    const h = cimdHooks({ config: config({ cacheSeconds: { min: 300, max: 86_400 } }), store });
    const id = 'https://popular.example/client.json';
    assert.equal(await resolve(h, id), 'accepted');
    // oidc-provider serves it from its cache (max-age 86400) for a day: allowClient only, nothing fetched.
    for (let hour = 0; hour < 24; hour++) {
      now += 3_600_000;
      assert.equal(await h.allowClient(undefined, { clientId: id, metadata: () => document(id) }), true);
    }
    now += 1000;
    // The cache entry ran out; a flood of made-up URLs spends the host's budget first: the refetch is still allowed.
    assert.deepEqual(await verdicts(h, [1, 2, 3, 4].map((i) => `https://popular.example/made-up-${i}.json`)), [true, true, true, false]);
    assert.equal(await store.knownDocument(id), true);
    assert.equal(await resolve(h, id), 'accepted');
    // Accepted again: known a further 25 hours (cacheSeconds.max and an hour), and no longer.
    now += 90_000_000 - 1000;
    assert.equal(await store.knownDocument(id), true);
    now += 2000;
    assert.equal(await store.knownDocument(id), false);
    // With a short cache the document is known a day.
    const short = new MemoryOnboardingStore(() => now);
    const shortCache = cimdHooks({ config: config({ cacheSeconds: { min: 300, max: 3600 } }), store: short });
    assert.equal(await resolve(shortCache, id), 'accepted');
    now += 86_399_000;
    assert.equal(await short.knownDocument(id), true);
    now += 2000;
    assert.equal(await short.knownDocument(id), false);
  });
});

describe('client_id metadata documents: host list entries (cimdHooks)', () => {
  const hooks = (o: Partial<CimdConfig>) =>
    cimdHooks({
      config: { enabled: true, allowedHosts: [], onlyAllowedHosts: false, deniedHosts: [], maxDocumentBytes: 5120, fetchTimeoutMs: 2500, cacheSeconds: { min: 300, max: 86400 }, fetchesPerMinutePerHost: 100, maxKnownDocuments: 10_000, ...o },
      store: new MemoryOnboardingStore(),
    });
  const verdicts = async (h: ReturnType<typeof hooks>, urls: string[]) => Object.fromEntries(await Promise.all(urls.map(async (u) => [u, await h.allowFetch(undefined, u)] as const)));

  it('a denied host without a port is denied on every port; with a port, on that port only (an explicit :443 included)', async () => {
    const h = hooks({ deniedHosts: ['evil.example', 'bad.example:8443', 'worse.example:443', 'xn--bcher-kva.example'] });
    assert.deepEqual(
      await verdicts(h, [
        'https://evil.example/c.json', 'https://EVIL.example./c.json', 'https://evil.example:443/c.json', 'https://evil.example:8443/c.json', 'https://evil.example.:8443/c.json',
        'https://bad.example:8443/c.json', 'https://bad.example/c.json', 'https://bad.example:9443/c.json',
        'https://worse.example/c.json', 'https://worse.example:8443/c.json',
        'https://bücher.example:4443/c.json', 'https://sub.evil.example/c.json',
      ]),
      {
        'https://evil.example/c.json': false, 'https://EVIL.example./c.json': false, 'https://evil.example:443/c.json': false, 'https://evil.example:8443/c.json': false, 'https://evil.example.:8443/c.json': false,
        'https://bad.example:8443/c.json': false, 'https://bad.example/c.json': true, 'https://bad.example:9443/c.json': true,
        'https://worse.example/c.json': false, 'https://worse.example:8443/c.json': true,
        'https://bücher.example:4443/c.json': false, 'https://sub.evil.example/c.json': true,
      },
    );
  });

  it('deniedHosts wins over allowedHosts on any port; an allowed host without a port is the default port only', async () => {
    const h = hooks({ onlyAllowedHosts: true, allowedHosts: ['docs.example', 'docs.example:8443', 'internal.example:443'], deniedHosts: ['docs.example'] });
    assert.deepEqual(await verdicts(h, ['https://docs.example/c.json', 'https://docs.example:8443/c.json']), { 'https://docs.example/c.json': false, 'https://docs.example:8443/c.json': false });
    const allowOnly = hooks({ onlyAllowedHosts: true, allowedHosts: ['docs.example', 'internal.example:443', '[::1]:8443'] });
    assert.deepEqual(
      await verdicts(allowOnly, ['https://docs.example/c.json', 'https://docs.example:8443/c.json', 'https://internal.example/c.json', 'https://[::1]:8443/c.json', 'https://[::1]/c.json']),
      { 'https://docs.example/c.json': true, 'https://docs.example:8443/c.json': false, 'https://internal.example/c.json': true, 'https://[::1]:8443/c.json': true, 'https://[::1]/c.json': false },
    );
  });

  it('an entry that is not a host or host:port fails at boot instead of never matching', () => {
    for (const entry of ['evil.example/path', 'user@evil.example', 'https://evil.example', 'evil.example:99999', ' evil.example', '']) {
      assert.throws(() => hooks({ deniedHosts: [entry] }), { name: 'TypeError', message: `onboarding.clientIdMetadataDocument.deniedHosts: not a host or host:port: ${JSON.stringify(entry)}` }, entry);
    }
  });
});
