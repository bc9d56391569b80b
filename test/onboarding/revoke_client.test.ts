// `dts admin revoke-client` (POST /admin/clients/{client_id}/revoke) for clients onboarded by Client ID Metadata
// Document or Dynamic Client Registration (issue 12 item 5): known by a consent, by the session registry or by a DCR
// registration, they are revoked (their delegation and refresh tokens die); a client id never seen stays 404.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { startService, CRM, type TestService } from '../helpers/service.js';
import { postForm } from '../helpers/http.js';
import { startDocServer, type DocServer } from '../../tools/https_docs.js';
import { approveAuthorization } from '../../tools/mcp_oauth_client.js';
import { adminToken, call, introspectDelegation, waitForSession } from '../admin/helpers.js';
import { main } from '../../src/admin/cli.js';

const REDIRECT = 'http://127.0.0.1:61235/callback';

describe('revoke-client for onboarded clients', () => {
  let docs: DocServer;
  let svc: TestService;
  let admin: string;

  before(async () => {
    docs = await startDocServer();
    svc = await startService({
      extra: () => ({
        onboarding: { clientIdMetadataDocument: { enabled: true, allowedHosts: [docs.host], caFile: docs.caFile }, registration: { enabled: true } },
        onboardedClients: [{ clientIdHosts: [docs.host], dynamicallyRegistered: true, toolServers: [{ resource: CRM, scopes: ['crm.lookup_customer'] }] }],
      }),
    });
    admin = await adminToken(svc);
  });
  after(async () => {
    await svc?.stop();
    await docs?.close();
  });

  /** A document client at `path`, authorized by `username` (login + consent over HTTP): its code-flow tokens. */
  async function onboardedByDocument(path: string, username: string) {
    const clientId = `${docs.origin}${path}`;
    docs.set(path, { client_id: clientId, client_name: 'Revocable', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', application_type: 'native', grant_types: ['authorization_code', 'refresh_token'] });
    const verifier = randomBytes(32).toString('base64url');
    const url = new URL(`${svc.url}/auth`);
    url.search = new URLSearchParams({
      client_id: clientId, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid offline_access crm.lookup_customer', state: 'st', prompt: 'consent',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', resource: CRM,
    }).toString();
    const { callback } = await approveAuthorization(url, { redirectUri: REDIRECT, username });
    const token = await postForm(`${svc.url}/token`, { grant_type: 'authorization_code', client_id: clientId, code: callback.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier, resource: CRM });
    assert.equal(token.status, 200, JSON.stringify(token.body));
    const jwt = token.body.access_token as string;
    assert.deepEqual(decodeJwt(jwt).act, { sub: clientId });
    await waitForSession(svc, admin, String(decodeJwt(jwt).sid));
    return { clientId, jwt, refresh: token.body.refresh_token as string };
  }

  const refresh = (clientId: string, refreshToken: string) =>
    postForm(`${svc.url}/token`, { grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken, resource: CRM });

  async function dts(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await main(['admin', ...args, '--url', svc.url], { out: (s) => (out += s), err: (s) => (err += s), env: { DTS_CLIENT_SECRET: svc.secrets['admin-cli']! } });
    return { code, out, err };
  }

  it('a document client holding a consent: 200, its delegation token and refresh token die', async () => {
    const c = await onboardedByDocument('/consented.json', 'bob');
    assert.equal((await introspectDelegation(svc, c.jwt)).body.active, true);
    const res = await call(svc, 'POST', `/admin/clients/${encodeURIComponent(c.clientId)}/revoke`, { token: admin, json: { reason: 'compromised' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { revokedAt, expiresAt, ...rest } = res.body;
    assert.deepEqual(rest, { kind: 'client', value: c.clientId, created: true, endedSessions: [], known: true });
    assert.deepEqual((await introspectDelegation(svc, c.jwt)).body, { active: false });
    const refused = await refresh(c.clientId, c.refresh);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_grant');
  });

  it('a document client known only from the session registry (its consent revoked): dts admin revoke-client works', async () => {
    const c = await onboardedByDocument('/sessions-only.json', 'alice');
    const removed = await call(svc, 'POST', '/admin/consents/revoke', { token: admin, json: { sub: 'user-alice', client_id: c.clientId, resource: CRM, reason: 'user asked' } });
    assert.equal(removed.status, 200);
    assert.deepEqual((await call(svc, 'GET', `/admin/consents?client_id=${encodeURIComponent(c.clientId)}`, { token: admin })).body, { items: [] });
    const run = await dts('revoke-client', c.clientId, '--reason', 'gone', '--json');
    assert.equal(run.code, 0, run.err);
    const body = JSON.parse(run.out) as Record<string, unknown>;
    assert.deepEqual([body.kind, body.value, body.known], ['client', c.clientId, true]);
  });

  it('a DCR client known by its registration (never used): revoked', async () => {
    const reg = await fetch(`${svc.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'Registered', redirect_uris: [REDIRECT], application_type: 'native', grant_types: ['authorization_code', 'refresh_token'] }) });
    assert.equal(reg.status, 201);
    const { client_id } = (await reg.json()) as { client_id: string };
    const run = await dts('revoke-client', client_id, '--reason', 'unused');
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, new RegExp(`^value +${client_id}$`, 'm'));
    assert.match(run.out, /^known +yes$/m);
  });

  it('client ids never seen stay 404, and nothing is recorded', async () => {
    for (const clientId of [`${docs.origin}/never-fetched.json`, 'dcr_neverRegistered0000000']) {
      const res = await call(svc, 'POST', `/admin/clients/${encodeURIComponent(clientId)}/revoke`, { token: admin, json: { reason: 'x' } });
      assert.equal(res.status, 404);
      assert.deepEqual(res.body, { error: 'not_found', error_description: 'client not found' });
      const run = await dts('revoke-client', clientId, '--reason', 'x');
      assert.equal(run.code, 1);
      assert.equal(run.err, 'error: not_found - client not found\n');
    }
    const snapshot = await svc.service.stores.revocations.snapshot();
    assert.equal(snapshot.revocations.some((r) => r.value.includes('never')), false);
  });
});
