// Dynamic Client Registration (RFC 7591; SPEC §13, OB-02): off unless enabled, rate-limited per IP, capped, CORS for
// browser clients, and registered clients limited to authorization code + refresh as public or private_key_jwt clients.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, randomUUID, startService, EXCHANGE, type TestService } from '../helpers/service.js';
import { postForm } from '../helpers/http.js';
import { startRedis } from '../helpers/private_redis.js';

const register = async (svc: TestService, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${svc.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text.startsWith('{') ? JSON.parse(text) : { raw: text }) as Record<string, unknown> };
};
const NATIVE = { client_name: 'Cursor', redirect_uris: ['http://127.0.0.1/callback'], application_type: 'native' };

describe('dynamic client registration: off by default', () => {
  let svc: TestService;
  before(async () => {
    svc = await startService();
  });
  after(() => svc?.stop());

  it('has no endpoint and no registration_endpoint in discovery', async () => {
    const md = (await (await fetch(`${svc.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    assert.equal(md.registration_endpoint, undefined);
    assert.equal(md.client_id_metadata_document_supported, undefined);
    assert.equal((await register(svc, NATIVE)).status, 404);
  });
});

describe('dynamic client registration: enabled', () => {
  let svc: TestService;
  before(async () => {
    svc = await startService({ extra: () => ({ onboarding: { registration: { enabled: true, perIpPerMinute: 8, maxClients: 4, unusedClientTtlSeconds: 600, corsOrigins: ['http://localhost:6274'] } } }) });
  });
  after(() => svc?.stop());

  it('is announced on both well-known paths', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const md = (await (await fetch(`${svc.url}${path}`)).json()) as Record<string, unknown>;
      assert.equal(md.registration_endpoint, `${svc.url}/reg`, path);
    }
  });

  it('registers a public native client: no secret, scope dropped, application_type honoured, stored with an expiry', async () => {
    const res = await register(svc, { ...NATIVE, scope: 'crm.lookup_customer' });
    assert.equal(res.status, 201);
    assert.match(String(res.body.client_id), /^dcr_[A-Za-z0-9_-]{22}$/);
    assert.equal(res.body.token_endpoint_auth_method, 'none');
    assert.equal(res.body.application_type, 'native');
    assert.deepEqual(res.body.grant_types, ['authorization_code']);
    assert.equal(res.body.client_secret, undefined);
    assert.equal(res.body.scope, undefined);
    const ttl = await svc.redis.pttl(`${svc.prefix}oidc:Client:${String(res.body.client_id)}`);
    assert.ok(ttl > 590_000 && ttl <= 600_000, `client record expires with unusedClientTtlSeconds (${ttl} ms)`);
    const listed = await svc.service.stores.onboarding.listClients(10);
    assert.ok(listed.some((c) => c.clientId === res.body.client_id));
  });

  it('a native registration accepts any loopback port; a web one only the registered URI', async () => {
    const native = await register(svc, NATIVE);
    const web = await register(svc, { ...NATIVE, application_type: 'web' });
    for (const [client, expected] of [[native, 303], [web, 400]] as const) {
      const u = new URL(`${svc.url}/auth`);
      u.search = new URLSearchParams({ client_id: String(client.body.client_id), response_type: 'code', redirect_uri: 'http://127.0.0.1:50123/callback', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }).toString();
      const res = await fetch(u, { redirect: 'manual' });
      assert.equal(res.status, expected, String(client.body.application_type));
    }
  });

  it('refuses token exchange, client_credentials and shared secrets at registration', async () => {
    for (const metadata of [{ grant_types: ['authorization_code', EXCHANGE] }, { grant_types: ['client_credentials'] }, { token_endpoint_auth_method: 'client_secret_basic' }]) {
      const res = await register(svc, { ...NATIVE, ...metadata });
      assert.equal(res.status, 400, JSON.stringify(metadata));
      assert.deepEqual(res.body, {
        error: 'invalid_client_metadata',
        error_description: 'registered clients may only use authorization_code and refresh_token, as none or private_key_jwt clients',
      });
    }
  });

  it('a registered client gets unauthorized_client for token exchange and client_credentials at the token endpoint', async () => {
    const { body } = await register(svc, NATIVE);
    for (const fields of [{ grant_type: EXCHANGE, subject_token: 'x', subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' }, { grant_type: 'client_credentials', scope: 'admin' }]) {
      const res = await postForm(`${svc.url}/token`, { client_id: String(body.client_id), ...fields });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { error: 'unauthorized_client', error_description: 'the client may not use this grant type' });
    }
  });

  it('answers CORS preflights for allowed origins only', async () => {
    const ok = await fetch(`${svc.url}/reg`, { method: 'OPTIONS', headers: { origin: 'http://localhost:6274', 'access-control-request-method': 'POST' } });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'http://localhost:6274');
    assert.equal(ok.headers.get('access-control-allow-methods'), 'POST');
    const other = await fetch(`${svc.url}/reg`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  it('caps stored clients (503 temporarily_unavailable) and rate-limits per IP (429 with Retry-After)', async () => {
    // Four clients are listed by now (maxClients 4): the next registration is refused and nothing is stored.
    const full = await register(svc, NATIVE);
    assert.equal(full.status, 503);
    assert.deepEqual(full.body, { error: 'temporarily_unavailable', error_description: 'client registration is not available now' });
    assert.equal(full.headers.get('retry-after'), '3600');
    // 9 requests so far from 127.0.0.1 in this window (perIpPerMinute 8): refused before anything is read.
    const limited = await register(svc, NATIVE);
    assert.equal(limited.status, 429);
    assert.deepEqual(limited.body, { error: 'too_many_requests', error_description: 'too many client registrations' });
    assert.match(limited.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    assert.ok(Number(limited.headers.get('retry-after')) <= 60);
  });
});

describe('dynamic client registration: the endpoint spelt another way', () => {
  let svc: TestService;
  before(async () => {
    svc = await startService({ extra: () => ({ onboarding: { registration: { enabled: true, perIpPerMinute: 4, maxClients: 10 } } }) });
  });
  after(() => svc?.stop());

  it('/REG, /reg/ and /Reg reach oidc-provider\'s registration endpoint, so the gate applies to them too', async () => {
    const register = (path: string, body: unknown) => fetch(`${svc.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    for (const path of ['/REG', '/reg/', '/Reg']) {
      const res = await register(path, { ...NATIVE, grant_types: ['authorization_code', 'client_credentials'], token_endpoint_auth_method: 'client_secret_basic' });
      assert.equal(res.status, 400, path);
      assert.deepEqual(await res.json(), {
        error: 'invalid_client_metadata',
        error_description: 'registered clients may only use authorization_code and refresh_token, as none or private_key_jwt clients',
      });
    }
    const created = await register('/REG/', NATIVE);
    assert.equal(created.status, 201);
    const client = (await created.json()) as Record<string, unknown>;
    assert.match(String(client.client_id), /^dcr_[\w-]{22}$/);
    assert.equal(client.token_endpoint_auth_method, 'none');
    // Four requests from this IP in this window: the fifth, however spelt, is over perIpPerMinute.
    assert.equal((await register('/rEg', NATIVE)).status, 429);
  });
});

describe('dynamic client registration: behind a proxy', () => {
  let svc: TestService;
  before(async () => {
    svc = await startService({ extra: () => ({ proxy: true, onboarding: { registration: { enabled: true, perIpPerMinute: 2, maxClients: 50 } } }) });
  });
  after(() => svc?.stop());

  it('counts per the address the proxy saw (the rightmost X-Forwarded-For entry), not one the client wrote in front of it', async () => {
    const from = (xff: string) => register(svc, NATIVE, { 'x-forwarded-for': xff });
    // The client writes its own first entry each time; the proxy appends the address it saw: 203.0.113.7.
    assert.deepEqual(
      [await from('10.9.1.1, 203.0.113.7'), await from('10.9.2.1, 203.0.113.7'), await from('10.9.3.1, 203.0.113.7')].map((r) => r.status),
      [201, 201, 429],
    );
    // Another client behind the same proxy has its own budget.
    assert.equal((await from('203.0.113.8')).status, 201);
  });
});

describe('dynamic client registration: store outage', () => {
  it('answers 503 temporarily_unavailable while Redis is down (fail closed), and registers again once it is back', async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    const svc = await startService({
      extra: () => ({ redis: { url: `redis://127.0.0.1:${port}`, keyPrefix: `test:${randomUUID()}:` }, onboarding: { registration: { enabled: true } } }),
    });
    try {
      assert.equal((await register(svc, NATIVE)).status, 201);
      const exited = new Promise((r) => redis.once('exit', r));
      redis.kill('SIGKILL');
      await exited;
      const down = await register(svc, NATIVE);
      assert.equal(down.status, 503);
      assert.deepEqual(down.body, { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable' });
      redis = await startRedis(port);
      let back = await register(svc, NATIVE);
      for (let i = 0; i < 50 && back.status === 503; i++) {
        await new Promise((r) => setTimeout(r, 100));
        back = await register(svc, NATIVE);
      }
      assert.equal(back.status, 201, JSON.stringify(back.body));
    } finally {
      await svc.stop();
      redis.kill('SIGKILL');
    }
  });
});
